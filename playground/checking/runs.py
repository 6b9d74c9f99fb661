"""Check runs: start one, run it on a thread of this process, stop it, keep its results.

A run is a CheckRun row and a daemon thread calling ``engine.run``. The thread writes
each Outcome into the row as it comes (its requests found in the traffic as exchange
seqs) and tells the sandbox's viewers (``checks.progress``, worded per viewer by the
traffic consumer); a last message carries the end state. The states::

    running -> passed | failed | stopped     (the thread, at the end)
    running -> interrupted                   (the process running it ended: found later)

One run per sandbox at a time is the database's rule (a partial unique constraint), so
a double click refused from any process is a 409 here. Stop sets ``stop_requested``
(seen by the thread after each check, whichever process runs it) and, in the process
that runs it, the engine's ``cancelled`` event, which ends the current check's waiting.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..files.storage import root_of
from ..models import CheckPort, CheckRun, Exchange, Sandbox
from ..refusals import Message, Refusal
from ..sandboxes import heartbeat, runtime
from ..traffic import exchanges, ingest, live
from . import engine, present, turns
from .stages import STAGES

log = logging.getLogger(__name__)
State = CheckRun.State

# Runs kept per sandbox: the newest, and the best one (what "best" is computed from).
KEEP_RUNS = 50
# How long an outcome waits for its requests' exchanges to be stored (the server's
# event writer and the ingest batch take milliseconds; a request the server never
# answered has no exchange, and must not hold the run up for long).
RESOLVE_WAIT = 2.0
RESOLVE_POLL = 0.05

NOT_RUNNING = gettext_noop("the sandbox is not running: start it, then check it")
ALREADY_RUNNING = gettext_noop("checks are already running on this sandbox; wait for them "
                               "or stop them")
BAD_THROUGH = gettext_noop("through must be a stage number from 1 to %(last)s")
SERVER_ENDED = gettext_noop("the server stopped during the checks; the checks after that "
                            "failed")
STOPPED = gettext_noop("stopped: the remaining checks were not run")
INTERRUPTED = gettext_noop("interrupted: the playground process running the checks ended")
WAITING = gettext_noop("waiting for its turn: the playground runs a few check runs at "
                       "a time (ahead of this one: %(ahead)s)")
CRASHED = gettext_noop("the checks could not go on: %(error)s")


@dataclass
class Active:
    """A run of this process: its thread's cancel event and what it resolves against."""

    run_id: int
    sandbox_id: int
    floor: int  # the sandbox's last seq when the run began: its exchanges come after
    cancelled: threading.Event = field(default_factory=threading.Event)
    waited: bool = False  # it waited for a turn (turns.py) before running
    thread: threading.Thread | None = None


_active: dict[int, Active] = {}
# Sandboxes with a start under way in this process: its row may exist before its thread
# is in ``_active`` (interrupt_ended must not take that run for one whose thread died).
_starting: dict[int, int] = {}
_lock = threading.Lock()


# ----- start, stop, find -------------------------------------------------------------------


def parse_through(body: dict[str, Any]) -> int:
    """``through`` of a start's body: a stage number, the last one by default."""
    last = len(STAGES)
    value = body.get("through", last)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= last:
        raise Refusal(BAD_THROUGH, last=last).answer(400, field="through")
    return value


def start(sandbox: Sandbox, through: int) -> CheckRun:
    """Begin a run of stages 1..``through`` on a running sandbox (its thread starts
    now); Refusal 409 if the sandbox is not running or a run is going on it."""
    if not runtime.is_running(sandbox):
        raise Refusal(NOT_RUNNING).answer(409)
    interrupt_ended(sandbox.pk)
    with _lock:
        _starting[sandbox.pk] = _starting.get(sandbox.pk, 0) + 1
    try:
        try:
            with transaction.atomic():
                last = CheckRun.objects.filter(sandbox=sandbox).aggregate(
                    n=Max("number"))["n"]
                run = CheckRun.objects.create(
                    sandbox=sandbox, user_id=sandbox.user_id,
                    owner_token=sandbox.owner_token, number=(last or 0) + 1,
                    through=through, run_by=heartbeat.me())
        except IntegrityError:  # the partial unique constraint: one is running
            raise Refusal(ALREADY_RUNNING).answer(409) from None
        active = Active(run.pk, sandbox.pk, floor=sandbox.last_seq)
        thread = threading.Thread(target=_run, args=(active,), name=f"check-run-{run.pk}",
                                  daemon=True)
        active.thread = thread
        with _lock:
            _active[run.pk] = active
    finally:
        with _lock:
            _starting[sandbox.pk] -= 1
            if not _starting[sandbox.pk]:
                del _starting[sandbox.pk]
    thread.start()
    _prune(sandbox.pk)
    return run


def stop(run: CheckRun) -> CheckRun:
    """Ask a run to stop (idempotent): the current check ends, the rest are not run."""
    if run.state != State.RUNNING:
        return run
    if not heartbeat.is_alive(run.run_by) or _thread_gone(run):
        interrupt_ended(run.sandbox_id)
    else:
        CheckRun.objects.filter(pk=run.pk).update(stop_requested=True)
        with _lock:
            active = _active.get(run.pk)
        if active is not None:
            active.cancelled.set()
            turns.wake_all()  # a run waiting for its turn ends now
    run.refresh_from_db()
    return run


def interrupt_ended(sandbox_id: int) -> int:
    """Runs left "running" by a playground process that has ended become interrupted
    (their thread died with it), and so do this process's runs whose thread is gone (it
    died before writing the end, e.g. on a database error). Returns how many."""
    count = 0
    for run in CheckRun.objects.filter(sandbox_id=sandbox_id, state=State.RUNNING):
        if not heartbeat.is_alive(run.run_by) or _thread_gone(run):
            marked = CheckRun.objects.filter(pk=run.pk, state=State.RUNNING).update(
                state=State.INTERRUPTED, ended_at=timezone.now(),
                **_message_fields(Message(INTERRUPTED)))
            CheckPort.objects.filter(run_id=run.pk).delete()
            if marked:  # its viewers wait for its end (a page's Stop button does)
                _publish(run.pk, sandbox_id, State.INTERRUPTED)
            count += marked
    return count


def _thread_gone(run: CheckRun) -> bool:
    """A run of this process with no thread for it here (and none being started)."""
    if run.run_by != heartbeat.me():
        return False
    with _lock:
        return run.pk not in _active and run.sandbox_id not in _starting


def wait(run_id: int, timeout: float) -> bool:
    """Wait for this process's run thread to end (tests; a shutdown). True if ended."""
    with _lock:
        active = _active.get(run_id)
    if active is None or active.thread is None:
        return True
    active.thread.join(timeout)
    return not active.thread.is_alive()


# At exit (Ctrl+C, SIGTERM, the autoreloader's sys.exit(3)) the runs' daemon threads
# would stop wherever they are, leaving their generated files in the sandboxes' folders:
# each is cancelled and given this long to remove them (its check's read ends at once).
EXIT_GRACE = 5.0


_exiting = threading.Event()


def _cancel_all() -> None:
    _exiting.set()  # the runs cut short now were interrupted, not stopped by anyone
    with _lock:
        active = list(_active.values())
    for run in active:
        run.cancelled.set()
    turns.wake_all()
    deadline = time.monotonic() + EXIT_GRACE
    for run in active:
        if run.thread is not None:
            run.thread.join(max(0.0, deadline - time.monotonic()))


atexit.register(_cancel_all)


def checks_asked(through: int) -> int:
    """How many checks a run of stages 1..``through`` has: all of them ran unless it
    was cut short (a Stop that came as the last one ended changed nothing)."""
    return sum(len(stage.checks) for stage in STAGES if stage.number <= through)


def _prune(sandbox_id: int) -> None:
    """Keep the newest KEEP_RUNS runs and the best one (the first that reached highest)."""
    runs = CheckRun.objects.filter(sandbox_id=sandbox_id)
    best = runs.order_by("-reached", "number").values_list("pk", flat=True).first()
    old = runs.order_by("-number").values_list("pk", flat=True)[KEEP_RUNS:]
    CheckRun.objects.filter(pk__in=[pk for pk in old if pk != best]).delete()


def _message_fields(message: Message | None) -> dict[str, Any]:
    data = message.to_json() if message else {"key": "", "params": {}}
    return {"message": data["key"], "message_params": data["params"]}


# ----- the target ------------------------------------------------------------------------


def docroot_of(sandbox: Sandbox) -> Path:
    """The folder the server serves "/" from, where the generated files go: a program's
    ``static/`` when it has one (the starters that serve files serve it), else the
    sandbox's folder (henaserver's --root; a program serving its own folder)."""
    folder = root_of(sandbox)
    static = folder / "static"
    if sandbox.is_program and static.is_dir() and not static.is_symlink():
        return static
    return folder


def target_of(sandbox: Sandbox) -> engine.Target:
    child = runtime.supervisor().get(sandbox.key)

    def console() -> str:
        """The server's console tail once it has died, else "" (engine.Target)."""
        if child is not None:
            if not (child.ended.is_set() or child.exit_info is not None
                    or child.program_exit is not None):
                return ""
            return "\n".join(child.console_tail)
        row = Sandbox.objects.filter(pk=sandbox.pk).first()  # run by another process
        return "" if row is None or runtime.is_running(row) else row.stderr_tail

    return engine.Target(host="127.0.0.1", port=sandbox.port,
                         docroot=str(docroot_of(sandbox)), console=console)


# ----- the run thread ----------------------------------------------------------------------


def _run(active: Active) -> None:
    state, message = State.FAILED, None
    try:
        sandbox = Sandbox.objects.filter(pk=active.sandbox_id).first()
        run = CheckRun.objects.filter(pk=active.run_id).first()
        if sandbox is None or run is None:
            return  # deleted before the thread began
        if run.stop_requested:  # stopped before this thread was registered
            active.cancelled.set()
        if not runtime.is_running(sandbox):
            message = Message(NOT_RUNNING)
            return
        me = threading.current_thread()
        results: list[dict[str, Any]] = []

        def on_connect(port: int, stage: int, label: str) -> None:
            _on_other_thread(me, lambda: CheckPort.objects.create(
                run_id=active.run_id, sandbox_id=active.sandbox_id, port=port, label=label))

        def on_outcome(outcome: engine.Outcome) -> None:
            _on_other_thread(me, lambda: _record(active, results, outcome))

        outcomes: list[engine.Outcome] = []
        with turns.turn(active.run_id, active.cancelled, lambda ahead: _waiting(active, ahead),
                        lambda: _stop_asked(active.run_id)) as mine:
            if mine:
                if active.waited:  # its turn came: the row no longer says it waits
                    CheckRun.objects.filter(pk=active.run_id).update(**_message_fields(None))
                outcomes = engine.run(target_of(sandbox), through=run.through,
                                      on_outcome=on_outcome, on_connect=on_connect,
                                      cancelled=active.cancelled)
        if active.cancelled.is_set() and len(outcomes) < checks_asked(run.through):
            # Cut short: by a Stop, or by this process ending (atexit: _cancel_all).
            state, message = ((State.INTERRUPTED, Message(INTERRUPTED)) if _exiting.is_set()
                              else (State.STOPPED, Message(STOPPED)))
        elif outcomes and all(o.passed for o in outcomes):
            state = State.PASSED
        elif not runtime.is_running(Sandbox.objects.get(pk=active.sandbox_id)):
            message = Message(SERVER_ENDED)
    except Refusal as refused:  # e.g. the run's files could not be written
        message = refused.message
    except Exception as error:  # a bug: the run ends failed, never stays "running"
        log.exception("check run %s failed", active.run_id)
        message = Message(CRASHED, error=repr(error))
    finally:
        try:
            _finish(active, state, message)
        finally:
            with _lock:
                _active.pop(active.run_id, None)
            connection.close()


def _waiting(active: Active, ahead: int) -> None:
    """The run waits for a turn (turns.py): its row and its viewers say so."""
    active.waited = True
    CheckRun.objects.filter(pk=active.run_id, state=State.RUNNING).update(
        **_message_fields(Message(WAITING, ahead=ahead)))
    _publish(active.run_id, active.sandbox_id, State.RUNNING)


def _stop_asked(run_id: int) -> bool:
    """A Stop of this run, from any process (the row's flag): looked at by a run
    waiting for its turn, and after each check."""
    return CheckRun.objects.filter(pk=run_id, stop_requested=True).exists()


def _on_other_thread(runner: threading.Thread, work: Any) -> None:
    """Run ``work`` (database writes); on an engine worker thread, close that thread's
    database connection after it (the worker ends with its check, and a connection
    left open on an ended thread is only closed by the garbage collector)."""
    try:
        work()
    finally:
        if threading.current_thread() is not runner:
            connection.close()


def _record(active: Active, results: list[dict[str, Any]], outcome: engine.Outcome) -> None:
    """One finished check: into the row (with its exchanges' seqs), then to viewers."""
    results.append(present.outcome_data(outcome, _resolve(active, outcome)))
    updated = CheckRun.objects.filter(pk=active.run_id).update(
        results=results, reached=present.reached(results))
    if not updated:  # the sandbox (and its runs) was deleted: stop checking it
        active.cancelled.set()
        return
    if _stop_asked(active.run_id):
        active.cancelled.set()  # a Stop from another process
    _publish(active.run_id, active.sandbox_id, State.RUNNING, len(results))


def _resolve(active: Active, outcome: engine.Outcome) -> dict[tuple[int, int], int]:
    """(local port, index) -> seq of the exchanges the check's requests became."""
    wanted = {(s.local_port, s.index) for s in outcome.sent}
    if outcome.failure is not None and outcome.failure.sent is not None:
        wanted.add((outcome.failure.sent.local_port, outcome.failure.sent.index))
    return seqs_of(active.sandbox_id, active.floor, wanted)


def seqs_of(sandbox_id: int, floor: int,
            wanted: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(local port, index) -> seq of the exchanges after ``floor`` that connections the
    playground made became, waiting up to RESOLVE_WAIT for them to be stored (a request
    the server never answered has none). Check runs and a class broadcast use it."""
    found: dict[tuple[int, int], int] = {}
    sandbox = Sandbox(pk=sandbox_id)
    deadline = time.monotonic() + RESOLVE_WAIT
    while wanted - found.keys():
        from_ports = reduce(or_, (Q(client__endswith=f":{port}") for port, _ in wanted))
        rows = Exchange.objects.filter(from_ports, sandbox_id=sandbox_id, seq__gt=floor)
        for client, index, seq in rows.values_list("client", "conn_index", "seq"):
            key = (exchanges.client_port(client), index)
            if key in wanted:
                found.setdefault(key, seq)
        if not wanted - found.keys() or time.monotonic() >= deadline:
            break
        if runtime.runs_here(sandbox):  # what this process's ingest holds, written
            ingest.ingestor().sync(max(0.0, deadline - time.monotonic()))
        time.sleep(RESOLVE_POLL)  # what the server's event writer has not sent yet
    return found


def _finish(active: Active, state: str, message: Message | None) -> None:
    """The run's end: its state and message, its ports forgotten, viewers told."""
    CheckRun.objects.filter(pk=active.run_id, state=State.RUNNING).update(
        state=state, ended_at=timezone.now(), **_message_fields(message))
    CheckPort.objects.filter(run_id=active.run_id).delete()
    _publish(active.run_id, active.sandbox_id, state)


def _publish(run_id: int, sandbox_id: int, state: str, count: int | None = None) -> None:
    """Tell the sandbox's viewers: a small message (the run's row holds the outcomes,
    bytes and all), which each viewer's consumer reads and words (present.as_sent)."""
    live.publish(sandbox_id, {"type": "checks.progress", "run": run_id, "state": state,
                              "count": count})
