"""Ingestion: every sandbox's events into the database, then one small message per
sandbox per batch to its viewers. One Ingestor per process, fed by the supervisor.

Data flows one way: supervisor reader threads -> ``Ingestor.event()`` / ``.output()``
-> a queue bounded by bytes -> one writer thread -> database -> ``live.publish()``.

Why this shape:

* Every exchange that reaches the playground is stored (retention then removes the
  oldest, runs.py counts them): the history has no holes. When the database cannot keep
  up, the pressure goes back to the server instead of making holes here: at the queue's
  bound (``PLAYGROUND_INGEST_QUEUE_BYTES``, bytes because an event may be 100 bytes or
  200 KB) ``event()`` waits for room, so the reader thread stops reading the child's
  pipe, and henaserver drops at its own capture queue, counting each loss at the source
  (its exchange numbers leave a gap in seq; runs.py ``capture_queue_full``).
* One writer thread is the only code that creates or deletes Exchange and Run rows and
  hands out ``seq`` numbers, so they need no locking within this process (and only the
  process that owns a sandbox's child ingests its events, sandboxes/control.py).
* Batches: the writer flushes when no item came for ``QUIET`` (5 ms) or the batch is
  ``MAX_AGE`` (50 ms) old. At 100 req/s each exchange goes out ~5 ms after it arrives;
  under a flood there is one transaction and one message per sandbox per ~50 ms, which
  is what InMemoryChannelLayer (capacity 100 per channel, silent drops) can take.
* Counts live on the runs (runs.py): served from henaserver's own counters, stored,
  removed and not recorded from what happened here; they always add up.
* Control items (a new run on start, status changes, test sync) travel through the
  same queue, so they are applied in order with the events around them.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from ..models import Exchange, Run, Sandbox
from ..sandboxes.presenters import status_facts, stored_message
from . import exchanges, live, redaction, retention, runs
from .queues import ByteQueue

log = logging.getLogger(__name__)

QUIET = 0.005  # henaserver's writer flushes every ~5 ms while busy: a gap means "done"
MAX_AGE = 0.05  # one transaction and one message per sandbox per 50 ms under a flood
MAX_BATCH = 5000  # items per transaction, so one flush never holds SQLite for long
CONSOLE_LINES = 100  # console lines per message; older ones in the same batch are counted
EVENT_OVERHEAD = 300  # bytes an event's JSON keys and numbers take besides its bodies
# Summaries pushed live per batch (the newest): under a flood a batch stores thousands,
# and pushing them all made 2 MB websocket frames (over daphne's limit) and 200 ms of
# event-loop lag (bench/flood.py). The view gets a sample of a flood; the history has
# every row (the page loads them over the exchange list API). Counted as not_pushed.
LIVE_ITEMS = 100


@dataclass
class _Pending:
    """What one batch brought for one sandbox."""

    exchanges: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    lines: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=CONSOLE_LINES))
    lines_seen: int = 0


@dataclass
class _Lines:
    """Console lines waiting for the writer. Lines do not travel through the queue one by
    one (under a flood the access log is one line per request): they collect here and
    one wake-up item per batch tells the writer."""

    lines: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=CONSOLE_LINES))
    seen: int = 0


class Ingestor:
    """Queue + writer thread. Public methods are safe from any thread."""

    def __init__(self, capacity: int, keep_count: int | None = None,
                 keep_bytes: int | None = None, publish: Any = live.publish,
                 owner_count: int | None = None, owner_bytes: int | None = None) -> None:
        # Retention bounds; None: the setting, read at each batch (so a test's settings
        # override reaches the process's long-lived ingestor too).
        self._bounds = (keep_count, keep_bytes, owner_count, owner_bytes)
        self.publish = publish
        self._queue = ByteQueue(capacity)
        self._lock = threading.Lock()
        self._lines: dict[str, _Lines] = {}
        self._kept: dict[int, retention.Kept] = {}
        self._rates: dict[int, tuple[float, int]] = {}  # last (time, exchanges) seen
        # Exchanges the database refused (disk full) whose count could not be written
        # either: written with the sandbox's next batch that succeeds.
        self._owed: collections.Counter[int] = collections.Counter()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def bounds(self) -> tuple[int, int, int, int]:
        """(per sandbox: exchanges, bytes; per owner: exchanges, bytes)."""
        defaults = (settings.PLAYGROUND_RETENTION_EXCHANGES,
                    settings.PLAYGROUND_RETENTION_BYTES,
                    settings.PLAYGROUND_OWNER_RETENTION_EXCHANGES,
                    settings.PLAYGROUND_OWNER_RETENTION_BYTES)
        given = self._bounds
        return (given[0] or defaults[0], given[1] or defaults[1],
                given[2] or defaults[2], given[3] or defaults[3])

    # ----- producers (supervisor threads, views) ------------------------------------

    def event(self, key: str, event: dict[str, Any]) -> None:
        """A child's event (supervisor ``on_event``). Waits while the queue is full:
        the back pressure that makes henaserver, not us, drop (and count) events."""
        size = EVENT_OVERHEAD + retention.b64_len(event.get("request_b64")) \
            + retention.b64_len(event.get("response_b64"))
        self._queue.put(("event", key, event), size)

    def output(self, key: str, stream: str, line: str) -> None:
        """A child's stdout/stderr line (supervisor ``on_output``). Never blocks."""
        with self._lock:
            buffer = self._lines.get(key)
            wake = buffer is None
            if wake:
                buffer = self._lines[key] = _Lines()
            buffer.lines.append({"stream": stream, "text": line})
            buffer.seen += 1
        if wake:
            self._queue.put_control(("lines", key, None))

    def new_run(self, key: str) -> None:
        """The sandbox starts: a new run begins; earlier runs' history stays."""
        self._control("run", key)

    def status(self, key: str) -> None:
        """The sandbox's status changed: tell its viewers, after the events before it;
        when it is no longer live, its run ends, saying how."""
        self._control("status", key)

    def sync(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is written and published."""
        done = threading.Event()
        self._control("sync", "", done)
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> bool:
        """Write what is queued, then end the writer thread (tests; the process's own
        ingestor lives as long as the process). True once the thread has ended."""
        self._control("stop", "")
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _control(self, kind: str, key: str, arg: Any = None) -> None:
        # Control items are rare and small: they never wait for room.
        self._queue.put_control((kind, key, arg))

    # ----- the writer thread --------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._queue.get_batch(MAX_BATCH, QUIET, MAX_AGE)
            # The thread keeps one database connection for its whole life (it would
            # otherwise reconnect for every batch, CONN_MAX_AGE being 0); after an error
            # it is closed, and Django opens a fresh one for the next batch.
            try:
                self._process(batch)
            except Exception:
                log.exception("ingest batch of %d items failed", len(batch))
                connection.close()
            if any(item[0] == "stop" for item in batch):
                self._queue.close()
                connection.close()
                return

    def _process(self, batch: list[tuple]) -> None:
        pending: dict[str, _Pending] = {}
        for kind, key, arg in batch:
            if kind == "event":
                self._collect(pending.setdefault(key, _Pending()), arg)
            elif kind == "lines":
                pending.setdefault(key, _Pending())  # taken from self._lines at flush
            else:  # a control item: first write what came before it, in order
                self._flush_all(pending)
                pending = {}
                self._apply_control(kind, key, arg)
        self._flush_all(pending)

    @staticmethod
    def _collect(p: _Pending, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "exchange":
            p.exchanges.append(event)
        elif kind == "server.stats":
            p.stats = event

    def _flush_all(self, pending: dict[str, _Pending]) -> None:
        with self._lock:
            lines, self._lines = self._lines, {}
        for key, buffer in lines.items():
            p = pending.setdefault(key, _Pending())
            p.lines, p.lines_seen = buffer.lines, buffer.seen
        for key, p in pending.items():
            if not key.isdigit():
                continue
            try:
                self._flush(int(key), p)
            except Exception:
                log.exception("ingest for sandbox %s failed", key)
                self._kept.pop(int(key), None)  # reload from the database next time
                connection.close()

    def _flush(self, sid: int, p: _Pending) -> None:
        if not p.exchanges and p.stats is None:
            if p.lines:  # console only (or a connection event): no database work
                self.publish(sid, {"type": "traffic.batch", **_console(p)})
            return
        try:
            with transaction.atomic():
                stored = self._store(sid, p)
        except DatabaseError as exc:
            if not _disk_full(exc):
                raise
            # Nothing of the batch was written (rolled back). Count its exchanges as not
            # recorded; if even that cannot be written, keep the count for later.
            log.warning("sandbox %s: the database is full, %d exchanges not recorded",
                        sid, len(p.exchanges))
            self._kept.pop(sid, None)
            try:
                with transaction.atomic():
                    stored = self._store(sid, p, disk_full=True)
            except DatabaseError as again:
                if not _disk_full(again):
                    raise
                self._owed[sid] += len(p.exchanges)
                return
        self._owed.pop(sid, None)  # written with this batch
        if stored is None:
            return
        first, last, new = stored
        # The newest rows stored by this batch, how many older stored ones were left out
        # (not_pushed: in the history), and the seq range the batch covered: any other
        # seq in the range was not recorded or already removed (the counts say which).
        pushed = new[-LIVE_ITEMS:]
        message: dict[str, Any] = {"type": "traffic.batch", "first_seq": first,
                                   "last_seq": last, "not_pushed": len(new) - len(pushed),
                                   "items": [exchanges.summary(ex) for ex in pushed]}
        message["stats"] = self._stats_message(sid, p.stats)
        if p.lines:
            message.update(_console(p))
        self.publish(sid, message)

    def _store(self, sid: int, p: _Pending, disk_full: bool = False
               ) -> tuple[int, int, list[Exchange]] | None:
        """Write one batch of a sandbox in the current transaction: (first seq, last
        seq, rows stored). ``disk_full``: the rows could not be stored, count them only."""
        sandbox = Sandbox.objects.filter(pk=sid).first()
        if sandbox is None:  # deleted meanwhile: its events have nowhere to go
            self._kept.pop(sid, None)
            return None
        run = (Run.objects.filter(sandbox_id=sid).order_by("-number").first()
               or runs.begin(sid))
        assert run is not None
        keep_count, keep_bytes, owner_count, owner_bytes = self.bounds()
        first = sandbox.last_seq + 1
        kept = self._kept.get(sid) or retention.load(sid)  # before this batch's rows
        seqs = _number(run, p.exchanges)
        start = retention.newest_within(p.exchanges, keep_count, keep_bytes)
        new: list[Exchange] = []
        owed = self._owed.get(sid, 0) + (len(p.exchanges) if disk_full else 0)
        if owed:
            lost = dict(run.lost or {})
            lost[runs.DISK_FULL] = lost.get(runs.DISK_FULL, 0) + owed
            run.lost = lost
        if not disk_full:
            # The playground's own cookies never reach the database (redaction.py).
            new = [redaction.redact_exchange(exchanges.from_event(sid, seqs[i], p.exchanges[i],
                                                                  run))
                   for i in range(start, len(p.exchanges))]
            exchanges.insert(new)
            run.stored += len(new)
            run.removed += start  # older than the window already: removed at once
        server = int((p.stats or {}).get("exchanges") or 0)
        run.served = max(run.served, run.last_number, server)
        run.save(update_fields=["stored", "removed", "lost", "served", "last_number"])
        if new:
            kept.add(new)
            self._kept[sid] = kept
            retention.evict(sid, kept, keep_count, keep_bytes)
            retention.evict_for_owner(sandbox, owner_count, owner_bytes, self._kept)
        fields: dict[str, Any] = {"last_seq": max(sandbox.last_seq, seqs[-1] if seqs else 0)}
        if p.stats is not None:
            fields.update(_totals(p.stats))
        Sandbox.objects.filter(pk=sid).update(**fields)
        return first, fields["last_seq"], new

    def _stats_message(self, sid: int, stats: dict[str, Any] | None) -> dict[str, Any]:
        sandbox = Sandbox.objects.get(pk=sid)
        kept = self._kept.get(sid)
        body = exchanges.stats(sandbox, stored=len(kept.rows) if kept else None)
        if stats is not None:
            now = (float(stats.get("time") or 0), int(stats.get("exchanges") or 0))
            last = self._rates.get(sid)
            if last is not None and now[0] > last[0]:
                body["rate"] = round((now[1] - last[1]) / (now[0] - last[0]), 1)
            self._rates[sid] = now
        return body

    def _apply_control(self, kind: str, key: str, arg: Any) -> None:
        if kind in ("sync", "stop"):
            if arg is not None:
                arg.set()
            return
        sid = int(key)
        if kind == "run":
            run = runs.begin(sid)
            self._rates.pop(sid, None)  # the new server counts from zero
            if run is not None:
                self.publish(sid, {"type": "traffic.run", "run": run.pk})
        elif kind == "status":
            sandbox = Sandbox.objects.filter(pk=sid).first()
            if sandbox is None:  # deleted: forget it and tell its viewers
                self._kept.pop(sid, None)
                self._rates.pop(sid, None)
            elif not sandbox.is_live:
                current = runs.current(sid)
                if current is not None:
                    runs.end(current, stored_message(sandbox))
                    self.publish(sid, {"type": "traffic.run", "run": current.pk})
            # As data: each viewer words it in their own language (consumer.py).
            self.publish(sid, {"type": "sandbox.status", "status": status_facts(sandbox)})


def _number(run: Run, events: list[dict[str, Any]]) -> list[int]:
    """The seq of each exchange event, from henaserver's exchange number (docs/events.md):
    seq = run.seq_base + number, so one henaserver could not record leaves a gap. An
    event without a usable number (older servers, or out of order) takes the next one."""
    seqs = []
    for event in events:
        number = event.get("number")
        if not isinstance(number, int) or isinstance(number, bool) \
                or number <= run.last_number:
            number = run.last_number + 1
        run.last_number = number
        seqs.append(run.seq_base + number)
    return seqs


def _disk_full(exc: DatabaseError) -> bool:
    """The database could not grow: SQLite's SQLITE_FULL, PostgreSQL's 53100."""
    text = str(exc).lower()
    return ("database or disk is full" in text
            or getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "53100")


def _console(p: _Pending) -> dict[str, Any]:
    return {"console": list(p.lines), "console_skipped": p.lines_seen - len(p.lines)}


def _totals(stats: dict[str, Any]) -> dict[str, int]:
    def num(name: str) -> int:
        value = stats.get(name)
        return value if isinstance(value, int) else 0

    return {"requests": num("exchanges"), "errors": num("errors"),
            "bytes_in": num("bytes_in"), "bytes_out": num("bytes_out"),
            "connections": num("connections"), "events_dropped": num("dropped")}


_lock = threading.Lock()
_ingestor: Ingestor | None = None


def ingestor() -> Ingestor:
    """This process's Ingestor (created with its writer thread on first use)."""
    global _ingestor
    with _lock:
        if _ingestor is None:
            _ingestor = Ingestor(settings.PLAYGROUND_INGEST_QUEUE_BYTES)
        return _ingestor
