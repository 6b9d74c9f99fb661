"""Which playground processes are alive: each serving process beats in the database.

Every serving process (a daphne, or runserver's worker) has a ``PlaygroundProcess`` row,
named ``host:pid:random`` (``me()``), and a daemon thread that refreshes its
``beat_at`` every ``BEAT_EVERY`` seconds. A sandbox's row says which process runs it
(``Sandbox.run_by``, set by its claim, sandboxes/claims.py). A process whose beat is older
than ``STALE_AFTER`` has ended (``kill -9``, a crash, a frozen machine): on each of its
own beats every process ``sweep``s, marking the sandboxes of ended processes "stopped:
the playground process that ran it ended" and ending their servers if any is left. A
stopped sandbox can be started again at once, by any process. All playground processes
run on the sandboxes' host (their ports are on it), so a process's name also says where
to look in /proc: one that is gone is noticed at the next beat, and one that is still
there but late (a frozen process, or a beat held up by a busy SQLite writer) is not
taken for dead (``_alive``).

Why in the database: it is what every process already shares, on SQLite and PostgreSQL
alike, with or without Redis; a channel-layer question ("who runs 12?") needs an answer
from a process that may be the dead one.

The thread runs only where settings.PLAYGROUND_HEARTBEAT is on (the default); the test
suite turns it off for its own process (tests/conftest.py), so only the playground
processes it starts beat and sweep. Without a thread, ``register()`` still records the
process once, when its Supervisor is made.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..models import PlaygroundProcess, Sandbox
from ..traffic.ingest import ingestor
from . import leftovers

log = logging.getLogger(__name__)

# A beat a second; a process five beats late has ended. "Noticed within seconds", while
# a busy SQLite writer (a flood being stored) can delay a beat by a second or two.
BEAT_EVERY = 1.0
STALE_AFTER = 5.0
# Rows of ended processes are deleted once they are this old (kept a little for the
# admin and for logs); rows of processes that still exist never are (``_forget_ended``).
FORGET_AFTER = timedelta(hours=1)

PROCESS_ENDED = gettext_noop("stopped: the playground process that ran it ended")

_name: tuple[int, str] | None = None
_thread: threading.Thread | None = None
_stop = threading.Event()
_lock = threading.Lock()


def me() -> str:
    """This process's name in the PlaygroundProcess table (a new one after a fork):
    ``host:pid:start:random``, where ``start`` is when the process started, so that a
    process on this host can tell at once whether the named one still exists."""
    global _name
    pid = os.getpid()
    if _name is None or _name[0] != pid:
        _name = (pid, f"{_host()}:{pid}:{leftovers.start_ticks(pid) or 0}:"
                      f"{secrets.token_hex(6)}")
    return _name[1]


def _host() -> str:
    return socket.gethostname()[:40]


def _still_there(name: str) -> bool | None:
    """For a process of this host: does it still exist (the same pid, started at the
    same time)? None when this cannot be told: a name of another host, one not made by
    ``me()``, or one made without /proc (start 0), or no /proc here (macOS): then its
    beats decide (leftovers.HAS_PROC)."""
    host, _, rest = name.partition(":")
    pid, _, rest = rest.partition(":")
    start = rest.partition(":")[0]
    if host != _host() or not pid.isdigit() or not start.isdigit() or start == "0" \
            or not leftovers.HAS_PROC:
        return None
    return leftovers.start_ticks(int(pid)) == int(start)


def register() -> None:
    """Record (or refresh) this process's row: one beat."""
    now = timezone.now()
    updated = PlaygroundProcess.objects.filter(name=me()).update(beat_at=now)
    if not updated:
        PlaygroundProcess.objects.create(name=me(), pid=os.getpid(), started_at=now,
                                         beat_at=now)


def forget() -> None:
    """This process ends cleanly: its row goes (called at exit)."""
    PlaygroundProcess.objects.filter(name=me()).delete()


def _alive(name: str, beat_at: datetime, cutoff: datetime) -> bool:
    """A process is alive while it beats, unless this host's process table shows it
    gone (then it is noticed at the next sweep, not five beats later). One that
    stopped beating but still exists here is slow or frozen, not ended: its servers
    still run, and a stop reaches them through control.py's fallback."""
    there = _still_there(name)
    if there is not None:
        return there
    return beat_at >= cutoff


def alive_names() -> set[str]:
    """Names of the processes that are alive (``_alive``), this one always included."""
    cutoff = timezone.now() - timedelta(seconds=STALE_AFTER)
    rows = PlaygroundProcess.objects.values_list("name", "beat_at")
    return {name for name, beat_at in rows if _alive(name, beat_at, cutoff)} | {me()}


def is_alive(name: str) -> bool:
    """True if the process ``name`` (a ``Sandbox.run_by``) is alive."""
    if not name:
        return False
    if name == me():
        return True
    row = PlaygroundProcess.objects.filter(name=name).values_list("beat_at", flat=True).first()
    cutoff = timezone.now() - timedelta(seconds=STALE_AFTER)
    return row is not None and _alive(name, row, cutoff)


def sweep(message: str = PROCESS_ENDED) -> int:
    """Mark stopped every live sandbox whose process has ended, ending any server it
    left behind (a frozen process's child would still run). Returns the count."""
    alive = alive_names()
    orphans = list(Sandbox.objects.filter(status__in=Sandbox.LIVE_STATUSES)
                   .exclude(run_by__in=alive).values("pk", "claim", "run_by", "pid", "port"))
    count = 0
    for row in orphans:
        with transaction.atomic():
            # Only if nobody claimed it meanwhile (a Start in another process).
            count += Sandbox.objects.filter(
                pk=row["pk"], claim=row["claim"], run_by=row["run_by"],
                status__in=Sandbox.LIVE_STATUSES,
            ).update(status=Sandbox.Status.STOPPED, pid=None, claim="", run_by="",
                     stopped_at=timezone.now(), message=message, message_params={})
        if leftovers.is_sandbox_server(row["pid"], row["port"]):
            leftovers.terminate(row["pid"])  # never wait here: this thread must beat
        ingestor().status(str(row["pk"]))
    if count:
        log.info("%d sandbox(es) of ended playground processes marked stopped", count)
    _forget_ended()
    return count


def _forget_ended() -> None:
    """Delete the rows of ended processes once they are old: by ``_alive``, never by
    the age of the beat alone. A process of this host that still exists has not ended,
    however old its beat (a machine suspended for hours, or a process that does not
    beat: PLAYGROUND_HEARTBEAT off); deleting its row would make every other process
    take its sandboxes for orphans and end their servers."""
    old = timezone.now() - FORGET_AFTER
    rows = PlaygroundProcess.objects.filter(beat_at__lt=old).values_list("name", "beat_at")
    ended = [name for name, beat_at in rows if not _alive(name, beat_at, old)]
    if ended:
        PlaygroundProcess.objects.filter(name__in=ended, beat_at__lt=old).delete()


def start(on_first_beat: Callable[[], None]) -> bool:
    """Start this process's heartbeat thread (once); ``on_first_beat`` runs on it after
    the first beat (resuming sandboxes: sandboxes/boot.py). False if already started."""
    global _thread
    with _lock:
        if _thread is not None and _thread.is_alive():
            return False
        _stop.clear()
        _thread = threading.Thread(target=_run, args=(on_first_beat,),
                                   name="playground-heartbeat", daemon=True)
        _thread.start()
        return True


def stop() -> None:
    """Stop beating (at exit, so a reload's old worker does not beat on)."""
    _stop.set()


def _run(on_first_beat: Callable[[], None]) -> None:
    first = True
    failing = ""  # the last failure, said once (not once a second while a disk is full)
    while not _stop.is_set():
        close_old_connections()  # a long-lived thread: drop a connection the DB closed
        try:
            register()
            if first:
                first = False
                on_first_beat()
            sweep()
            if failing:
                log.info("heartbeat beats again")
                failing = ""
        except Exception as exc:  # e.g. a full disk: keep beating once it is back
            if str(exc) != failing:
                log.warning("heartbeat failed (%s); trying again every %s s", exc,
                            BEAT_EVERY, exc_info=not isinstance(exc, DatabaseError))
                failing = str(exc)
            # A connection that failed mid-write may still hold SQLite's write lock,
            # which would stop every other writer (ingest): start afresh next beat.
            connection.close()
        _stop.wait(BEAT_EVERY)
