"""This process's Supervisor, the database rows that mirror it, and the one answer to
"is this sandbox running?".

The Supervisor is created lazily by ``supervisor()`` on first use in the process that
serves requests, never in ``AppConfig.ready()`` (which also runs in the autoreloader's
parent and in every management command). Creating it records this process
(heartbeat.register) and reconciles the database: a live row whose process has ended
(heartbeat.py) cannot be true any more, so it is marked stopped and one click starts it
again. ``middleware`` makes that first use happen before any request or websocket reads
a status; in a serving process the heartbeat thread makes it at start-up
(sandboxes/boot.py).

The process that starts a child owns it, and the row says so (``Sandbox.run_by``, its
claim: claims.py). Stop requests for another process's child go through control.py
(docs/deploy.md). At exit (Ctrl+C, SIGTERM, the autoreloader's ``sys.exit(3)``) this
process stops its children and marks their rows stopped; rows the autoreloader is about
to restart keep ``resume`` so the next worker starts them again (boot.py).
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..models import Sandbox
from ..refusals import Message
from ..traffic.ingest import ingestor
from . import heartbeat, modes, program_kind
from .exits import ExitInfo, describe_returncode
from .supervisor import Supervisor

log = logging.getLogger(__name__)
Status = Sandbox.Status

RESTARTED_MESSAGE = gettext_noop("stopped: the playground restarted")
RELOADING_MESSAGE = gettext_noop("stopped while the playground reloads its code; it starts "
                                 "again by itself")
CRASHED_MESSAGE = gettext_noop("the server stopped unexpectedly (%(exit)s)")

_lock = threading.Lock()
_supervisor: Supervisor | None = None


def supervisor() -> Supervisor:
    """This process's Supervisor, created (and the database reconciled) on first use."""
    global _supervisor
    with _lock:
        if _supervisor is None:
            sup = Supervisor(
                on_event=_on_event, on_exit=record_exit, on_output=_on_output,
                start_timeout=settings.PLAYGROUND_START_TIMEOUT,
                cwd=str(settings.BASE_DIR),
                # No --quiet: the access log is the traffic page's server console.
                extra_args=child_limit_args(),
            )
            # atexit runs on Ctrl+C and on the autoreloader's sys.exit(3); after kill -9
            # the children still go, because their stdin pipe closes.
            atexit.register(shutdown, sup)
            heartbeat.register()
            reconcile(sup)
            _supervisor = sup
        return _supervisor


def runs_here(sandbox: Sandbox) -> bool:
    """True when this playground process runs the sandbox's server (its child)."""
    return supervisor().get(sandbox.key) is not None


def is_running(sandbox: Sandbox) -> bool:
    """The one answer to "is it running?": the row is live and the process that claimed
    it serves it (this one: its child exists; another: its heartbeat is fresh). The
    row's status follows this fact (claims, ``record_exit``, heartbeat.sweep) and is
    what pages show."""
    if not sandbox.is_live:
        return False
    if sandbox.run_by == heartbeat.me():
        return runs_here(sandbox)
    return heartbeat.is_alive(sandbox.run_by)


def running(rows: QuerySet[Sandbox]) -> list[Sandbox]:
    """The rows that ``is_running`` says run, in two queries however many there are
    (``is_running`` row by row asks the heartbeat once per row another process runs)."""
    alive = heartbeat.alive_names()
    live = rows.filter(status__in=Sandbox.LIVE_STATUSES, run_by__in=alive)
    return [s for s in live if s.run_by != heartbeat.me() or runs_here(s)]


def reconcile(sup: Supervisor) -> int:
    """Mark every live row whose process has ended as stopped. Returns the count."""
    count = heartbeat.sweep(RESTARTED_MESSAGE)
    if count:
        log.info("reconciled %d sandbox(es) left running by a previous playground", count)
    return count


def shutdown(sup: Supervisor) -> None:
    """At exit: stop this process's children and say so on their rows (``resume`` rows
    say the reload will start them again). Never raises: the process is ending."""
    heartbeat.stop()
    sup.stop_all()
    try:
        mine = Sandbox.objects.filter(run_by=heartbeat.me(), status__in=Sandbox.LIVE_STATUSES)
        stopped = {"status": Status.STOPPED, "pid": None, "claim": "", "run_by": "",
                   "stopped_at": timezone.now()}
        mine.filter(resume=True).update(**stopped,
                                        **message_fields(Message(RELOADING_MESSAGE)))
        mine.update(**stopped, **message_fields(Message(RESTARTED_MESSAGE)))
        heartbeat.forget()
    except Exception:  # e.g. a test database already dropped
        log.debug("could not record the shutdown", exc_info=True)


def message_fields(message: Message | None) -> dict[str, Any]:
    """The row's columns for a message kept as data (its key and parameters)."""
    if message is None:
        return {"message": "", "message_params": {}}
    data = message.to_json()
    return {"message": data["key"], "message_params": data["params"]}


def _on_event(key: str, event: dict[str, Any], tag: str) -> None:
    """Every event of every child, on its reader thread, with the child's claim: handed
    to the ingestor's queue (bounded by bytes: it waits for room), which stores
    exchanges and totals in that claim's run and tells viewers."""
    ingestor().event(key, event, tag)


def _on_output(key: str, stream: str, line: str) -> None:
    """Every stdout/stderr line of every child: the traffic page's server console."""
    ingestor().output(key, stream, line)


def record_exit(key: str, info: ExitInfo) -> None:
    """A child that was running has exited. A stop we asked for is recorded by stop()."""
    if info.requested:
        return
    # Filter on the pid: if the learner already started a new process, leave it alone.
    rows = Sandbox.objects.filter(pk=int(key), pid=info.pid)
    program = rows.filter(kind=Sandbox.Kind.PROGRAM).exists()
    if program:
        # A learner's program: its own exit is its outcome, told with its last output.
        expected, message = program_kind.expected_end(info), program_kind.crash_message(info)
    else:
        # e.g. the "once" mode exits after one request: no crash.
        expected = modes.exit_outcome(info)
        message = Message(CRASHED_MESSAGE, exit=describe_returncode(info.returncode))
    if expected is not None:
        rows.update(status=Status.STOPPED, pid=None, exit_code=None, stderr_tail="",
                    claim="", run_by="", stopped_at=timezone.now(),
                    **message_fields(expected))
    else:
        rows.update(status=Status.CRASHED, pid=None, exit_code=info.returncode,
                    claim="", run_by="",
                    stderr_tail="\n".join(info.stderr_tail), stopped_at=timezone.now(),
                    **message_fields(message))
    # What outlived its bwrap where no control group took it (only if no start has
    # claimed the row since: program_kind.end_survivors).
    program_kind.end_survivors(int(key), program)
    ingestor().status(key)


def child_limit_args() -> tuple[str, ...]:
    """henaserver options that make each child cap its own resources (it applies them
    at start-up: setting rlimits between fork and exec needs preexec_fn, unsafe in a
    threaded parent). 0 in a setting means "no limit"."""
    out: list[str] = []
    files = settings.PLAYGROUND_CHILD_FILES
    if files:
        # A connection may hold its socket and a file being sent; the rest is headroom.
        out += ["--limit-files", str(files), "--max-connections", str(max(1, files // 2))]
    if settings.PLAYGROUND_CHILD_MEMORY_MB:
        out += ["--limit-memory", str(settings.PLAYGROUND_CHILD_MEMORY_MB)]
    if settings.PLAYGROUND_CHILD_CPU_SECONDS:
        out += ["--limit-cpu", str(settings.PLAYGROUND_CHILD_CPU_SECONDS)]
    return tuple(out)


def stop_all() -> None:
    """Stop every child of this process (tests use it between cases)."""
    if _supervisor is not None:
        _supervisor.stop_all()


def console_tail(sandbox: Sandbox) -> list[dict[str, str]]:
    """The last lines of the server's stdout and stderr, for a viewer that just arrived,
    in the order they came (the supervisor keeps them for a live child, Child.console:
    two pipes, so only nearly the order they were written in; a stopped one left its
    stderr here, a program its console)."""
    child = supervisor().get(sandbox.key)
    if child is not None:
        return [{"stream": stream, "text": text} for stream, text in list(child.console)]
    return [{"stream": "stderr", "text": t} for t in sandbox.stderr_tail.splitlines()]


class ReconcileMiddleware:
    """Creates this process's Supervisor (reconciling the database) before the first
    request reads a sandbox's status; after that, a lock and a None check."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        supervisor()
        return self.get_response(request)
