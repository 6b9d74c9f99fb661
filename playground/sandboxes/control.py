"""Several playground processes, one owner per sandbox: stop requests between processes.

With ``REDIS_URL`` set, nginx may spread requests over several daphne processes
(docs/deploy.md). A sandbox's server is a child of the process that started it: only
that process can stop it, and only it reads the child's events. Those events already
reach viewers in every process, because the ingest writer sends them through the channel
layer (``live.publish`` -> ``group_send``), never by an in-process shortcut.

What needs help is a stop (or restart, delete, the admin's "Stop selected sandboxes")
that arrives at a process that is not the owner. Every process that has started a
sandbox listens on one channel-layer group, ``GROUP``. A non-owner sends ``{"type":
"sandbox.stop", "id": N}`` to the group; the process whose Supervisor holds that child
stops it through the ordinary path (``lifecycle.stop``, handed to ``ensure_listening``
as ``on_stop``), which writes the new status to the database. The sender waits (at most
``STOP_WAIT`` seconds) for that status to change. If nobody answers, the owner is gone
or stuck: the sender ends the child itself if it is still a henaserver on this host
(SIGTERM), and marks the sandbox stopped with a note saying so. A broadcast rather than
a per-process address keeps the database schema as it is; a handful of daphne processes
each ignore the ids they do not own.

Which process owns a running sandbox is never stored: a row whose ``pid`` is a live
henaserver process on this host is owned by *some* playground process (all of them run
on the sandboxes' host: the sandboxes' ports are on it). So a process that just started
does not mark its siblings' sandboxes stopped when it reconciles the database.

With the in-memory channel layer (one process) none of this is used: ``multi_process()``
is False and every stop is local, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..models import Sandbox
from ..refusals import Message
from ..traffic import live
from ..traffic.ingest import ingestor

log = logging.getLogger(__name__)

GROUP = "playground-supervisors"
# A stop takes up to ~3 s when the child ignores stdin EOF (supervisor.STOP_GRACE),
# so the sender waits a little longer than that.
STOP_WAIT = 5.0
# channels_redis forgets group members after a day (group_expiry): rejoin well before.
REJOIN_EVERY = 3600.0
NO_ANSWER = gettext_noop("stopped: the playground process that ran it did not answer (it "
                         "may have exited; its server is stopped with it)")

# What this process does when asked to stop a sandbox: lifecycle.stop_if_mine.
StopHandler = Callable[[int, "Message | None"], None]

_lock = threading.Lock()
_listening_on: asyncio.AbstractEventLoop | None = None
_on_stop: StopHandler | None = None


def multi_process() -> bool:
    """True when the channel layer reaches other processes (Redis)."""
    layer = get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


# ----- who runs what -------------------------------------------------------------------


def is_sandbox_server(pid: int | None, port: int) -> bool:
    """True if ``pid`` is a live (not zombie) ``henaserver`` serving ``port`` here."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X") or b"henaserver" not in args:
        return False
    wanted = str(port).encode()
    return any(a == b"--port" and b == wanted for a, b in zip(args, args[1:], strict=False))


def runs_elsewhere(sandbox: Sandbox) -> bool:
    """True if another playground process runs this sandbox (never in one-process mode:
    there, a live row without a child of ours was reconciled as stopped)."""
    return (sandbox.is_live and multi_process()
            and is_sandbox_server(sandbox.pid, sandbox.port))


def pids_run_elsewhere() -> list[int]:
    """Pids of live rows run by sibling processes: reconcile() must leave them alone."""
    if not multi_process():
        return []
    rows = Sandbox.objects.filter(status__in=Sandbox.LIVE_STATUSES)
    return [pid for pid, port in rows.values_list("pid", "port") if is_sandbox_server(pid, port)]


# ----- the listener (runs on the ASGI server's loop) -----------------------------------


def ensure_listening(on_stop: StopHandler, timeout: float = 5.0) -> bool:
    """Join GROUP on this process's ASGI loop, once per loop. Called (from a request
    thread) before this process starts a child, so it can be asked to stop it later;
    ``on_stop(sandbox_id, message)`` is called (in a thread) for every stop request.
    False when there is no loop yet (the test client) or the layer is in-memory."""
    global _listening_on, _on_stop
    _on_stop = on_stop
    loop = live.current_loop()
    if loop is None or not multi_process():
        return False
    with _lock:
        if _listening_on is loop:
            return True
        joined: asyncio.Future = asyncio.run_coroutine_threadsafe(_start_listener(), loop)
        try:
            joined.result(timeout)
        except Exception:
            log.exception("could not join the control group %s", GROUP)
            return False
        _listening_on = loop
        return True


async def _start_listener() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("playground-control.")
    await layer.group_add(GROUP, channel)
    loop = asyncio.get_running_loop()
    loop.create_task(_listen(layer, channel), name="playground-control")
    loop.create_task(_rejoin(layer, channel), name="playground-control-rejoin")
    log.info("listening for stop requests on %s", channel)


async def _rejoin(layer: Any, channel: str) -> None:
    while True:
        await asyncio.sleep(REJOIN_EVERY)
        await layer.group_add(GROUP, channel)


async def _listen(layer: Any, channel: str) -> None:
    while True:
        try:
            message = await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control channel receive failed; retrying in 1 s")
            await asyncio.sleep(1.0)
            continue
        if message.get("type") == "sandbox.stop" and isinstance(message.get("id"), int):
            try:
                await database_sync_to_async(_stop)(message["id"], message.get("message"))
            except Exception:
                log.exception("stop request for sandbox %s failed", message["id"])


def _stop(sandbox_id: int, message: Any) -> None:
    if _on_stop is not None:
        _on_stop(sandbox_id, Message.from_json(message) if isinstance(message, dict) else None)


# ----- the sender ----------------------------------------------------------------------


def stop_elsewhere(sandbox: Sandbox, message: Message | None = None) -> Sandbox:
    """Ask the owning process to stop ``sandbox`` and wait for it (STOP_WAIT at most).
    Without an answer, end the child here and record why. Returns the fresh row."""
    payload = {"type": "sandbox.stop", "id": sandbox.pk,
               "message": message.to_json() if message is not None else None}
    try:
        _send(payload)
    except Exception:
        log.exception("could not send the stop request for sandbox %s", sandbox.pk)
    deadline = time.monotonic() + STOP_WAIT
    pid = sandbox.pid
    while time.monotonic() < deadline:
        row = Sandbox.objects.filter(pk=sandbox.pk).values("status", "pid").first()
        if row is None or row["status"] not in (Sandbox.Status.RUNNING,
                                                Sandbox.Status.STARTING) or row["pid"] != pid:
            break
        time.sleep(0.1)
    else:
        log.warning("sandbox %s: its owner did not answer a stop request", sandbox.pk)
        if is_sandbox_server(pid, sandbox.port):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        Sandbox.objects.filter(pk=sandbox.pk, pid=pid).update(
            status=Sandbox.Status.STOPPED, pid=None, message=NO_ANSWER, message_params={},
            stopped_at=timezone.now())
        ingestor().status(sandbox.key)  # nobody else will tell its viewers
    try:
        sandbox.refresh_from_db()
    except Sandbox.DoesNotExist:
        pass  # deleted meanwhile: the caller's copy says what it last was
    return sandbox


def _send(payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    loop = live.current_loop()
    if loop is not None:
        asyncio.run_coroutine_threadsafe(layer.group_send(GROUP, payload), loop).result(5.0)
    else:  # a management command or the test client: no server loop in this process
        async_to_sync(layer.group_send)(GROUP, payload)
