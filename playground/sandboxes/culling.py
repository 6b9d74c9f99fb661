"""Idle culling: a sandbox nobody uses gives its slot and its port back.

* **Idle stop.** A running sandbox with no traffic and no viewer for
  ``PLAYGROUND_IDLE_STOP`` seconds (default 30 minutes) is stopped, saying so on its
  card and as its run's end ("stopped after 30 minutes with no traffic and no
  viewer"). Traffic is known only to the process that runs the server (its child's
  events: supervisor ``Child.active_at``), so each process culls only its own
  children, and releases only the claim it saw (``lifecycle.stop(claim=...)``): a
  start that came meanwhile, from any process, is never stopped by mistake. Viewers of
  any process count, through ``Sandbox.viewed_at`` (presence.py).
* **Abandoned.** An anonymous owner's sandboxes are deleted once the owner has not
  been seen (no request of its session, no viewer) for ``PLAYGROUND_ABANDONED_DELETE``
  seconds of the playground's uptime (default: the session cookie's life, two weeks):
  a dropped cookie jar leaves nothing behind for ever. Time the playground was down is
  not absence (a class's instance stopped on Friday and started on Monday must not
  delete every student's files): nothing is deleted until the playground has been up
  for the whole time, counted from the start of the oldest process alive
  (``up_since``). Logged-in users' sandboxes are never deleted so. Any process may do
  it; the row is re-read under its lock before it is deleted, so two processes delete
  it once.

``cull()`` runs every ``CULL_EVERY`` seconds on a thread of its own in each serving
process (started by boot.py): a stop takes up to a grace period, which the heartbeat
thread cannot spare. 0 in a setting turns that culling off.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..models import PlaygroundProcess, Sandbox
from ..refusals import Message
from . import heartbeat, lifecycle, presence, runtime

log = logging.getLogger(__name__)

IDLE_STOPPED = gettext_noop("stopped after %(idle)s with no traffic and no viewer")
# The duration in the sentence, in whole units (a setting may be any number of seconds).
HOURS = gettext_noop("%(count)s hours")
ONE_HOUR = gettext_noop("1 hour")
MINUTES = gettext_noop("%(count)s minutes")
ONE_MINUTE = gettext_noop("1 minute")
SECONDS = gettext_noop("%(count)s seconds")
ONE_SECOND = gettext_noop("1 second")

# As often as the heartbeat: a culling time is minutes in use, seconds in the tests.
CULL_EVERY = 1.0

_next_abandoned_sweep = 0.0
# When this process came up (its heartbeat row is written a beat later).
_loaded_at = datetime.now(UTC)
_thread: threading.Thread | None = None
_stop = threading.Event()


def duration(seconds: float) -> Message:
    """``seconds`` as words: 1800 -> "30 minutes", 7200 -> "2 hours", 2 -> "2 seconds"."""
    whole = max(1, round(seconds))
    for size, one, many in ((3600, ONE_HOUR, HOURS), (60, ONE_MINUTE, MINUTES)):
        if whole % size == 0:
            count = whole // size
            return Message(one) if count == 1 else Message(many, count=count)
    return Message(ONE_SECOND) if whole == 1 else Message(SECONDS, count=whole)


def cull() -> None:
    """One round, on a heartbeat: viewers' presence written, then idle stops, then (now
    and then) the abandoned deleted."""
    global _next_abandoned_sweep
    presence.flush()
    if settings.PLAYGROUND_IDLE_STOP > 0:
        stop_idle()
    if settings.PLAYGROUND_ABANDONED_DELETE > 0 and time.monotonic() >= _next_abandoned_sweep:
        _next_abandoned_sweep = time.monotonic() + presence.refresh_every()
        delete_abandoned()


def stop_idle() -> int:
    """Stop this process's servers that were idle, and unwatched, for the idle time."""
    idle = settings.PLAYGROUND_IDLE_STOP
    now = timezone.now()
    watched_since = now - timedelta(seconds=idle)
    rows = Sandbox.objects.filter(run_by=heartbeat.me(), status=Sandbox.Status.RUNNING) \
        .filter(Q(viewed_at__isnull=True) | Q(viewed_at__lt=watched_since))
    count = 0
    for sandbox in rows:
        child = runtime.supervisor().get(sandbox.key)
        if child is None or child.tag != sandbox.claim or presence.viewing(sandbox.pk):
            continue
        if time.time() - max(child.started_at, child.active_at) < idle:
            continue
        lifecycle.stop(sandbox, Message(IDLE_STOPPED, idle=duration(idle)),
                       claim=sandbox.claim)
        log.info("sandbox %s: stopped after %s s with no traffic and no viewer",
                 sandbox.pk, idle)
        count += 1
    return count


def abandoned() -> Q:
    """The rows of anonymous owners not seen, nor their sandbox viewed, for the time."""
    cutoff = timezone.now() - timedelta(seconds=settings.PLAYGROUND_ABANDONED_DELETE)
    return (Q(user=None, seen_at__lt=cutoff)
            & (Q(viewed_at__isnull=True) | Q(viewed_at__lt=cutoff)))


def up_since() -> datetime:
    """Since when the playground has been up without a break: the start of the oldest
    process alive now (a rolling restart keeps the clock), this one's at the latest."""
    oldest = PlaygroundProcess.objects.filter(name__in=heartbeat.alive_names()) \
        .aggregate(first=Min("started_at"))["first"]
    return min(oldest, _loaded_at) if oldest is not None else _loaded_at


def delete_abandoned() -> int:
    """Delete anonymous sandboxes whose owner has gone. Rows from before seen_at was
    kept start their clock now, never at their creation. Nothing goes before the
    playground has been up for the whole abandon time: its downtime is no absence."""
    Sandbox.objects.filter(user=None, seen_at=None).update(seen_at=timezone.now())
    up_for = (timezone.now() - up_since()).total_seconds()
    if up_for < settings.PLAYGROUND_ABANDONED_DELETE:
        return 0
    count = 0
    for pk in Sandbox.objects.filter(abandoned()).values_list("pk", flat=True):
        with transaction.atomic():
            # Seen again meanwhile (the owner came back), or gone: left as it is.
            row = Sandbox.objects.select_for_update().filter(abandoned(), pk=pk).first()
            if row is not None:
                row.delete()  # lifecycle._deleted ends any server, removes the files
                count += 1
    if count:
        log.info("deleted %d sandbox(es) of anonymous owners not seen for %s s", count,
                 settings.PLAYGROUND_ABANDONED_DELETE)
    return count


def start() -> None:
    """Start this process's culling thread (once)."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _stop.clear()
    _thread = threading.Thread(target=_run, name="playground-culler", daemon=True)
    _thread.start()


def stop() -> None:
    """Stop culling (at exit: the children are being stopped anyway)."""
    _stop.set()


def _run() -> None:
    failing = ""  # the last failure, said once
    while not _stop.wait(CULL_EVERY):
        close_old_connections()
        try:
            cull()
            failing = ""
        except Exception as exc:  # e.g. a locked or full database: try again later
            if str(exc) != failing:  # a database's own error needs no traceback
                log.warning("culling failed (%s); trying again every %s s", exc, CULL_EVERY,
                            exc_info=not isinstance(exc, DatabaseError))
                failing = str(exc)
            connection.close()
