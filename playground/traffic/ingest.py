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
* Batches: the writer flushes when no item came for ``QUIET`` (5 ms), the batch is
  ``MAX_AGE`` (50 ms) old or holds ``MAX_BATCH_BYTES``. At 100 req/s each exchange goes
  out ~5 ms after it arrives; under a flood there is one transaction and one message
  per sandbox per ~50 ms (or per 4 MB of bodies), which is what InMemoryChannelLayer
  (capacity 100 per channel, silent drops) can take; messages.py bounds each by bytes.
* Counts live on the runs (runs.py): served from henaserver's own counters, stored,
  removed and not recorded from what happened here; they always add up.
* Control items (a new run on start, status changes, test sync) travel through the
  same queue, so they are applied in order with the events around them. Each event
  carries its server's claim (the supervisor's tag) and is stored in that server's run
  (runbook.py), however late it comes. A control item that fails is logged and the
  batch goes on: the events after it are still stored (or counted).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest

from ..models import Exchange, Sandbox
from ..refusals import Message
from ..sandboxes.presenters import status_facts
from . import exchanges, live, redaction, retention, runs, streams
from .messages import Lines, Pending, console, newest_summaries, waiting_item
from .queues import ByteQueue
from .runbook import RunBook, add_lost, claim_of, newer_base, newest_id, refusal_reason
from .waiting import WaitingBoard

log = logging.getLogger(__name__)

QUIET = 0.005  # henaserver's writer flushes every ~5 ms while busy: a gap means "done"
MAX_AGE = 0.05  # one transaction and one message per sandbox per 50 ms under a flood
# Items and bytes (``event``'s estimate) per transaction, whichever comes first, so one
# flush never holds SQLite for long, nor all its bodies in memory at once, nor grows the
# WAL by more than a few MB (a WAL is as large as the largest transaction written to it).
MAX_BATCH, MAX_BATCH_BYTES = 5000, 4 * 1024 * 1024
EVENT_OVERHEAD = 300  # bytes an event's JSON keys and numbers take besides its bodies


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
        self._lines: dict[str, Lines] = {}
        self._kept: dict[int, retention.Kept] = {}
        self._rates: dict[int, tuple[float, int]] = {}  # last (time, exchanges) seen
        # tag -> run, and the exchanges the database refused whose count is not written
        # yet (written with the run's next batch, or when the sandbox's status changes).
        self._book = RunBook()
        self.waiting = WaitingBoard()  # the relay's unanswered requests (waiting.py)
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

    def event(self, key: str, event: dict[str, Any], tag: str = "") -> None:
        """A child's event (supervisor ``on_event``), with the child's tag (its claim:
        which run it belongs to). Waits while the queue is full: the back pressure that
        makes henaserver, not us, drop (and count) events."""
        size = EVENT_OVERHEAD + retention.b64_len(event.get("request_b64")) \
            + retention.b64_len(event.get("response_b64")) \
            + retention.b64_len(event.get("data_b64"))
        self._queue.put(("event", key, (tag, event)), size)

    def output(self, key: str, stream: str, line: str) -> None:
        """A child's stdout/stderr line (supervisor ``on_output``). Never blocks."""
        with self._lock:
            buffer = self._lines.get(key)
            wake = buffer is None
            if wake:
                buffer = self._lines[key] = Lines()
            buffer.lines.append({"stream": stream, "text": line})
            buffer.seen += 1
        if wake:
            self._queue.put_control(("lines", key, None))

    def new_run(self, key: str, tag: str | None = None) -> None:
        """The sandbox starts: a new run begins, for the child of claim ``tag`` (None:
        the row's claim now, which the caller has just taken); earlier runs' history
        stays."""
        sid = int(key)
        self._control("run", key, (claim_of(sid) if tag is None else tag, newest_id(sid)))

    def status(self, key: str) -> None:
        """The sandbox's status changed: tell its viewers, after the events before it;
        when it is no longer live, its run ends, saying how.

        The row is read now, on the caller's thread, not when the writer gets to it: a
        restart's "stopped" is followed at once by "starting", and the writer must
        still see the stop (to end the run) and tell it to viewers."""
        sandbox = Sandbox.objects.filter(pk=int(key)).first() if key.isdigit() else None
        self._control("status", key,
                      (status_facts(sandbox), newest_id(int(key)) if sandbox else 0))

    def sync(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is written and published."""
        done = threading.Event()
        self._control("sync", "", done)
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> bool:
        """Write what is queued, then end the writer thread (tests: the process's own
        lives as long as the process). True once the thread has ended."""
        self._control("stop", "")
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _control(self, kind: str, key: str, arg: Any = None) -> None:
        self._queue.put_control((kind, key, arg))  # rare and small: never waits for room

    # ----- the writer thread --------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._queue.get_batch(MAX_BATCH, QUIET, MAX_AGE, MAX_BATCH_BYTES)
            # The thread keeps one database connection for its whole life (it would
            # otherwise reconnect for every batch, CONN_MAX_AGE being 0); after an error
            # it is closed, and Django opens a fresh one for the next batch.
            try:
                self._process(batch)
            except Exception:  # a bug: nothing below should raise; never leave a waiter
                log.exception("ingest batch of %d items failed", len(batch))
                connection.close()
                for kind, _key, arg in batch:
                    if kind in ("sync", "stop") and arg is not None:
                        arg.set()
            if any(item[0] == "stop" for item in batch):
                self._queue.close()
                connection.close()
                return

    def _process(self, batch: list[tuple]) -> None:
        # Pending work by (sandbox key, tag): one server's events go to its own run.
        pending: dict[tuple[str, str], Pending] = {}
        for kind, key, arg in batch:
            if kind == "event":
                self._collect(pending.setdefault((key, arg[0]), Pending()), arg[1])
            elif kind == "lines":
                pending.setdefault((key, ""), Pending())  # taken from self._lines at flush
            else:  # a control item: first write what came before it, in order
                self._flush_all(pending)
                pending = {}
                try:
                    self._apply_control(kind, key, arg)
                except Exception:  # e.g. the database locked or full: this item is
                    # lost (the next start closes what stays open), not the rest.
                    log.exception("ingest control item %s for %r failed", kind, key)
                    connection.close()
                finally:
                    if kind in ("sync", "stop") and arg is not None:
                        arg.set()
        self._flush_all(pending)

    @staticmethod
    def _collect(p: Pending, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "exchange":
            p.exchanges.append(event)
            if p.waiting:  # answered within this batch: nothing is waiting any more
                p.waiting = [w for w in p.waiting if (w["conn"], w["index"])
                             != (event.get("conn"), event.get("index"))]
        elif kind == "server.stats":
            p.stats = event
        elif kind == "stream":  # the capture relay's bytes outside exchanges
            p.streams.append(event)
        elif kind in ("exchange.waiting", "exchange.progress"):  # unanswered, or growing
            p.waiting.append(waiting_item(event))

    def _flush_all(self, pending: dict[tuple[str, str], Pending]) -> None:
        with self._lock:
            lines, self._lines = self._lines, {}
        for key, buffer in lines.items():
            # Console lines go with any pending work of the sandbox (one message).
            found = [k for k in pending if k[0] == key]
            p = pending[found[-1]] if found else pending.setdefault((key, ""), Pending())
            p.lines, p.lines_seen = buffer.lines, buffer.seen
        for (key, tag), p in pending.items():
            if not key.isdigit():
                continue
            try:
                self._flush(int(key), tag, p)
            except Exception:
                # Not a refusal of the database (those are counted in _flush): a bug.
                # The batch's exchanges are counted as not recorded, never silently lost.
                log.exception("ingest for sandbox %s failed", key)
                self._kept.pop(int(key), None)  # reload from the database next time
                if not p.committed:  # else stored (or counted) already: never twice
                    self._book.owe(int(key), tag, runs.DATABASE_ERROR, p.exchanges)
                connection.close()

    def _flush(self, sid: int, tag: str, p: Pending) -> None:
        # Rows "no response yet" these exchanges end, however they reach the page.
        answered = self.waiting.settle(sid, p.exchanges, p.waiting)
        if not p.exchanges and p.stats is None and not p.streams:
            if p.lines or p.waiting:  # console, waiting rows: no database work
                self.publish(sid, {"type": "traffic.batch", **console(p),
                                   "waiting": p.waiting})
            return
        try:
            with transaction.atomic():
                stored = self._store(sid, tag, p)
            p.committed = True
        except DatabaseError as exc:
            # Nothing of the batch was written (rolled back). Count its exchanges as not
            # recorded, with the reason; if even that cannot be written, keep the count
            # for the sandbox's next batch.
            reason = refusal_reason(exc)
            log.warning("sandbox %s: %d exchanges not recorded (%s)", sid,
                        len(p.exchanges), reason, exc_info=reason != runs.DISK_FULL)
            self._kept.pop(sid, None)
            self._book.owe(sid, tag, reason, p.exchanges)
            try:
                with transaction.atomic():
                    stored = self._store(sid, tag, p, stored=False)
                p.committed = True
            except DatabaseError:
                connection.close()  # a fresh connection for the next batch
                if answered:
                    self.publish(sid, {"type": "traffic.batch", "answered": answered})
                return
        self._book.paid(sid, tag)  # committed with this batch
        if stored is None:
            return
        first, last, new = stored
        # The newest rows stored by this batch, how many older stored ones were left out
        # (not_pushed: in the history), and the seq range the batch covered: any other
        # seq in the range was not recorded or already removed (the counts say which).
        pushed = newest_summaries(new)
        message: dict[str, Any] = {"type": "traffic.batch", "first_seq": first,
                                   "last_seq": last, "not_pushed": len(new) - len(pushed),
                                   "items": pushed}
        message["stats"] = self._stats_message(sid, p.stats)
        if p.lines:
            message.update(console(p))
        if p.waiting:
            message["waiting"] = p.waiting
        if answered:
            message["answered"] = answered
        if p.streams:
            message["streams"] = len(p.streams)
        self.publish(sid, message)

    def _store(self, sid: int, tag: str, p: Pending, stored: bool = True
               ) -> tuple[int, int, list[Exchange]] | None:
        """Write one batch of one server (``tag``) in the current transaction: (first
        seq, last seq, rows stored). ``stored=False``: the database refused the rows;
        only count them (they are owed, with their reason)."""
        sandbox = Sandbox.objects.filter(pk=sid).first()
        run = self._book.run_for(sid, tag) if sandbox is not None else None
        if sandbox is None or run is None:  # deleted meanwhile: nowhere to go
            self._kept.pop(sid, None)
            return None
        keep_count, keep_bytes, owner_count, owner_bytes = self.bounds()
        first = sandbox.last_seq + 1
        seqs = runs.seqs_of(run, p.exchanges)
        self._book.pay(run, sid, tag)  # after numbering: what is owed may be these events
        # A late tail whose seqs a newer run already numbers is counted, not stored.
        newer = newer_base(run)
        fit = len(seqs) if newer is None else sum(1 for seq in seqs if seq <= newer)
        events, seqs, late = p.exchanges[:fit], seqs[:fit], len(seqs) - fit
        if late or fit and seqs[0] <= sandbox.last_seq:
            self._kept.pop(sid, None)  # rows older than the window's newest: reload it
        kept = self._kept.get(sid) or retention.load(sid)  # before this batch's rows
        start = retention.newest_within(events, keep_count, keep_bytes)
        new: list[Exchange] = []
        add_lost(run, {runs.ARRIVED_LATE: late})
        if stored:
            # The playground's own cookies never reach the database (redaction.py).
            new = [redaction.redact_exchange(exchanges.from_event(sid, seqs[i], events[i], run))
                   for i in range(start, len(events))]
            exchanges.insert(exchanges.tag_checks(sid, new))  # "Check my server"
            streams.store(sid, run, p.streams)
            run.stored += len(new)
            run.removed += start  # older than the window already: removed at once
        server = int((p.stats or {}).get("exchanges") or 0)
        run.served = max(run.served, run.last_number, server)
        # The run is locked (runbook.run_for): these values cannot be stale.
        run.save(update_fields=["stored", "removed", "lost", "served", "last_number"])
        if new:
            kept.add(new)
            self._kept[sid] = kept
            retention.evict(sid, kept, keep_count, keep_bytes)
            retention.evict_for_owner(sandbox, owner_count, owner_bytes, self._kept)
        fields: dict[str, Any] = {"last_seq": Greatest(F("last_seq"), seqs[-1] if seqs else 0)}
        if p.stats is not None and newer is None:  # a late tail's totals are stale
            fields.update(exchanges.totals_of(p.stats))
        Sandbox.objects.filter(pk=sid).update(**fields)
        last = Sandbox.objects.filter(pk=sid).values_list("last_seq", flat=True).first()
        return first, last or 0, new

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
            tag, upto = arg
            run = runs.begin(sid, upto, self._book.mine(sid))
            self._rates.pop(sid, None)  # the new server counts from zero
            self.waiting.forget(sid)
            if run is not None:
                self._book.note(sid, tag, run.pk)
                self.publish(sid, {"type": "traffic.run", "run": run.pk})
        elif kind == "status":
            # status_facts of the row when the change was made, and the newest run then
            facts, upto = arg
            if facts["status"] not in Sandbox.LIVE_STATUSES:
                self.waiting.forget(sid)
            if facts["status"] == "deleted":  # forget it and tell its viewers
                self._kept.pop(sid, None)
                self._rates.pop(sid, None)
                self._book.forget(sid)
            elif facts["status"] not in Sandbox.LIVE_STATUSES:
                try:  # a database refusing this must not keep the status from viewers
                    self._book.settle(sid)
                    message = facts["message"]
                    for ended in runs.end_open(sid, upto, self._book.mine(sid), Message
                                               .from_json(message) if message else None):
                        self.publish(sid, {"type": "traffic.run", "run": ended.pk})
                except DatabaseError:
                    log.warning("sandbox %s: its run not closed yet", sid, exc_info=True)
                    connection.close()
            # As data: each viewer words it in their own language (consumer.py).
            self.publish(sid, {"type": "sandbox.status", "status": facts})


_lock = threading.Lock()
_ingestor: Ingestor | None = None


def waiting_now(sid: int) -> list[dict[str, Any]]:
    """The relay's requests still unanswered in this process (none if it ingests
    nothing: a viewer in another process than its sandbox's sees new ones only)."""
    current = _ingestor
    return current.waiting.now(sid) if current is not None else []


def ingestor() -> Ingestor:
    """This process's Ingestor (created with its writer thread on first use)."""
    global _ingestor
    with _lock:
        if _ingestor is None:
            _ingestor = Ingestor(settings.PLAYGROUND_INGEST_QUEUE_BYTES)
        return _ingestor
