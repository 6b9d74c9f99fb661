"""Several playground processes, one owner per sandbox: stop requests between processes.

With ``REDIS_URL`` set, nginx may spread requests over several daphne processes
(docs/deploy.md). A sandbox's server is a child of the process that started it: only
that process can stop it, and only it reads the child's events. Those events already
reach viewers in every process, because the ingest writer sends them through the channel
layer (``live.publish`` -> ``group_send``), never by an in-process shortcut.

What needs help is a stop (or restart, delete, the admin's "Stop selected sandboxes")
that arrives at a process that is not the owner. The stop has already happened in the
database (claims.release: the row is stopped and its claim cleared, so no start in
flight can finish); what is left is the child process. Every process that has started a
sandbox listens on one channel-layer group, ``GROUP``. The stopping process sends
``{"type": "sandbox.stop", "id": N, "claim": C}`` to the group; the process whose
Supervisor holds that sandbox's child *of that claim* stops it (``on_stop``, given to
``ensure_listening``) and answers on the sender's reply channel only once its ingest
writer has stored the child's last events (``Ingestor.sync``, at most ``SYNC_WAIT``
seconds): the sender's next step (a Restart's new run, numbered after them) must come
after the old run's tail (docs/runs.md). The sender waits (``STOP_WAIT`` +
``SYNC_WAIT`` seconds at most, and only ``STOP_WAIT`` while the child still runs: an
owner that does not even stop it is stuck) for that answer. Without one, the owner is
gone or stuck: the sender ends the child itself if it is still a henaserver on this
host (SIGTERM), and notes that on the row.

Which process owns a running sandbox is on its row (``Sandbox.run_by``, a
PlaygroundProcess with a heartbeat: heartbeat.py), so a process that just started leaves
its siblings' sandboxes alone, and the sandboxes of a process that died are noticed by
the others within seconds.

With the in-memory channel layer (one process) none of this is used: ``multi_process()``
is False and every stop is local, as before.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.utils.translation import gettext_noop

from ..models import Sandbox
from ..traffic import live
from ..traffic.ingest import ingestor
from . import heartbeat, leftovers
from .claims import Released

log = logging.getLogger(__name__)

GROUP = "playground-supervisors"
# A stop takes up to ~3 s when the child ignores stdin EOF (supervisor.STOP_GRACE),
# so the sender waits a little longer than that.
STOP_WAIT = 5.0
# Seconds the owner's ingest writer gets to store a stopped child's queued events before
# the owner answers anyway (a flood's backlog on a slow database takes a few seconds).
SYNC_WAIT = 15.0
# channels_redis forgets group members after a day (group_expiry): rejoin well before.
REJOIN_EVERY = 3600.0
NO_ANSWER = gettext_noop("stopped: the playground process that ran it did not answer (it "
                         "may have exited; its server is stopped with it)")

# What this process does when asked to stop a sandbox's child of a claim:
# lifecycle.stop_if_mine(sandbox_id, claim); True if it was ours (and its events are
# written).
StopHandler = Callable[[int, str], bool]

_lock = threading.Lock()
_listening_on: asyncio.AbstractEventLoop | None = None
_on_stop: StopHandler | None = None


def multi_process() -> bool:
    """True when the channel layer reaches other processes (Redis)."""
    layer = get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


# ----- the listener (runs on the ASGI server's loop) -----------------------------------


def ensure_listening(on_stop: StopHandler, timeout: float = 5.0) -> bool:
    """Join GROUP on this process's ASGI loop, once per loop. Called (from a request
    thread) before this process starts a child, so it can be asked to stop it later;
    ``on_stop(sandbox_id, claim)`` is called (in a thread) for every stop request.
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
    # A plain new_channel(), as every consumer's: channels_redis reads all of a
    # process's channels from one Redis list, one receiver at a time (its receive
    # lock) on behalf of all. A prefix of our own would be another list, and while this
    # listener held the lock waiting on it, no viewer in this process would receive
    # (docs/architecture.md, "Several processes"; tests/playground/traffic/
    # test_live_over_redis.py).
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    loop = asyncio.get_running_loop()
    # A clean context: this coroutine was scheduled from a request's thread, and a copy
    # of that context would send every later database_sync_to_async to the request's
    # thread executor, long gone ("CurrentThreadExecutor already quit").
    loop.create_task(_listen(layer, channel), name="playground-control",
                     context=contextvars.Context())
    loop.create_task(_rejoin(layer, channel), name="playground-control-rejoin",
                     context=contextvars.Context())
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
            # Each request in a task of its own: a stop may wait many seconds for its
            # server's last events, and another sandbox's stop must not queue behind it
            # (its sender would take our silence for a dead owner).
            task = asyncio.ensure_future(_answer(layer, message))
            _answering.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(_answering.discard)


_answering: set[asyncio.Future] = set()


async def _answer(layer: Any, message: dict[str, Any]) -> None:
    try:
        mine = await database_sync_to_async(_stop, thread_sensitive=False)(
            message["id"], str(message.get("claim")))
        # Only the owner answers, once the child's events are written.
        if mine and isinstance(message.get("reply"), str):
            await layer.send(message["reply"], {"type": "sandbox.stopped",
                                                "id": message["id"]})
    except Exception:
        log.exception("stop request for sandbox %s failed", message["id"])


def _stop(sandbox_id: int, claim: str) -> bool:
    return _on_stop is not None and _on_stop(sandbox_id, claim)


# ----- the sender ----------------------------------------------------------------------


def stop_elsewhere(sandbox_id: int, released: Released) -> None:
    """Ask the process that ran the sandbox's server (``released``: its row before the
    stop) to end it, and wait for the pid to exit (STOP_WAIT at most). Without an
    answer, end it here and say so on the row, if nothing new claimed it since."""
    payload = {"type": "sandbox.stop", "id": sandbox_id, "claim": released.claim}
    pid = released.pid
    try:
        # Still starting (no pid): its owner sees the claim gone and stops it; no answer
        # to wait for.
        owner_alive = heartbeat.is_alive(released.run_by)  # a dead owner never answers
        if pid is not None and _ask(payload, lambda: not owner_alive or
                                    leftovers.is_sandbox_server(pid, released.port)):
            return
        if pid is None:
            _ask(payload, None)
    except Exception:
        log.exception("could not send the stop request for sandbox %s", sandbox_id)
    if pid is None or not leftovers.is_sandbox_server(pid, released.port):
        return
    log.warning("sandbox %s: its owner did not answer a stop request", sandbox_id)
    leftovers.end([pid], wait=0)
    if Sandbox.objects.filter(pk=sandbox_id, claim="").update(message=NO_ANSWER,
                                                              message_params={}):
        ingestor().status(str(sandbox_id))


def _ask(payload: dict[str, Any], hopeless: Callable[[], bool] | None) -> bool:
    """Send ``payload`` to GROUP with a reply channel; True if the owner answered in
    time: ``STOP_WAIT`` seconds while ``hopeless()`` says waiting longer is pointless
    (the child still runs, or its owner is gone), ``STOP_WAIT + SYNC_WAIT`` in all (the
    owner is storing the child's last events). ``hopeless`` None: send only."""
    layer = get_channel_layer()

    async def ask() -> bool:
        reply = await layer.new_channel()
        await layer.group_send(GROUP, {**payload, "reply": reply})
        if hopeless is None:
            return False
        clock = asyncio.get_running_loop().time
        began = clock()
        answer = asyncio.ensure_future(layer.receive(reply))
        try:
            while True:
                waited = clock() - began
                if waited > STOP_WAIT + SYNC_WAIT or (waited > STOP_WAIT and hopeless()):
                    return False
                await asyncio.wait({answer}, timeout=0.05)
                if answer.done() and answer.exception() is None:
                    return True
                if answer.done():  # the read failed (a Redis connection lost): again
                    answer = asyncio.ensure_future(layer.receive(reply))
        finally:
            answer.cancel()

    loop = live.current_loop()
    if loop is not None:
        return asyncio.run_coroutine_threadsafe(ask(), loop).result(
            STOP_WAIT + SYNC_WAIT + 5.0)
    # A management command or the test client: no server loop in this process.
    return async_to_sync(ask)()
