"""Ingestion: every sandbox's events into the database, then one small message per
sandbox per batch to its viewers. One Ingestor per process, fed by the supervisor.

Data flows one way: supervisor reader threads -> ``Ingestor.event()`` / ``.output()``
(never blocks: a bounded queue) -> one writer thread -> database -> ``live.publish()``.

Why this shape:

* The reader threads must never wait on the database: a slow write would stop them
  reading the child's pipe, and henaserver would drop events (it never slows serving).
  So they only ``put_nowait`` into a queue of ``PLAYGROUND_INGEST_QUEUE`` items; at the
  bound an item is dropped and counted per sandbox, the count stored on the Sandbox
  (``ingest_dropped``) and shown on the traffic page. Nothing is dropped silently.
* One writer thread is the only code that creates or deletes Exchange rows and hands out
  ``seq`` numbers, so ``Sandbox.last_seq`` needs no locking within this process (and
  only the process that owns a sandbox's child ingests its events, sandboxes/control.py).
* Batches: the writer flushes when no item came for ``QUIET`` (5 ms) or the batch is
  ``MAX_AGE`` (50 ms) old. At 100 req/s each exchange goes out ~5 ms after it arrives;
  under a flood there is one transaction and one message per sandbox per ~50 ms, which
  is what InMemoryChannelLayer (capacity 100 per channel, silent drops) can take.
* Totals come from henaserver's ``server.stats`` (exact, counted by the server), never
  from counting rows: rows are evicted by retention, and events may be dropped.
* Control items (reset on start, status changes, test sync) travel through the same
  queue, so they are applied in order with the events around them.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from ..models import Exchange, Sandbox
from ..sandboxes.presenters import status_facts
from . import exchanges, live, redaction

log = logging.getLogger(__name__)

QUIET = 0.005  # henaserver's writer flushes every ~5 ms while busy: a gap means "done"
MAX_AGE = 0.05  # one transaction and one message per sandbox per 50 ms under a flood
MAX_BATCH = 5000  # items per transaction, so one flush never holds SQLite for long
# How many exchanges per second are stored, per sandbox: a token bucket of STORE_BURST
# rows refilled at STORE_RATE a second. A page load, a test script, even a burst of a
# thousand requests is stored whole; a sustained flood (henaserver answers 10,000+ a
# second here) is stored at 1,000 a second, newest first, always including the newest of
# each batch. Storing all of a flood meant inserting, and evicting a moment later, over
# 10,000 rows a second: measured, that cost the event loop 50-100 ms of lag
# (bench/flood.py, docs/benchmarks.md). The others still get their seq and count in the
# exact totals; viewers are told how many went by unseen ("skipped").
STORE_RATE = 1000.0
STORE_BURST = 1000.0
CONSOLE_LINES = 100  # console lines per message; older ones in the same batch are counted


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


@dataclass
class _Kept:
    """The retained rows of one sandbox as (seq, stored_bytes), oldest first: eviction
    is decided here in memory instead of by querying the table every batch."""

    rows: collections.deque = field(default_factory=collections.deque)
    total: int = 0
    last_stats: tuple[float, int] | None = None  # (time, exchanges) for the rate
    tokens: float | None = None  # rows that may be stored now (see STORE_RATE)
    refilled: float = field(default_factory=time.monotonic)


class Ingestor:
    """Queue + writer thread. Public methods are safe from any thread."""

    def __init__(self, capacity: int, keep_count: int, keep_bytes: int,
                 publish: Any = live.publish, store_rate: float = STORE_RATE,
                 store_burst: float = STORE_BURST) -> None:
        self.keep_count = keep_count
        self.keep_bytes = keep_bytes
        self.store_rate = store_rate
        self.store_burst = store_burst
        self.publish = publish
        self._queue: queue.Queue = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._dropped: collections.Counter[str] = collections.Counter()
        self._lines: dict[str, _Lines] = {}
        self._kept: dict[int, _Kept] = {}
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    # ----- producers (supervisor threads, views) ------------------------------------

    def event(self, key: str, event: dict[str, Any]) -> None:
        """A child's event (supervisor ``on_event``). Never blocks."""
        self._offer(("event", key, event))

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
            self._offer(("lines", key, None))

    def reset(self, key: str) -> None:
        """A new run of the sandbox starts: forget its history and totals (seq goes on)."""
        self._control("reset", key)

    def status(self, key: str) -> None:
        """The sandbox's status changed: tell its viewers, after the events before it."""
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

    def _offer(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._dropped[item[1]] += 1

    def _control(self, kind: str, key: str, arg: Any = None) -> None:
        # Control items are rare and must not be lost: wait for room, briefly.
        try:
            self._queue.put((kind, key, arg), timeout=5.0)
        except queue.Full:
            log.warning("ingest queue full: %s for sandbox %s not delivered", kind, key)

    # ----- the writer thread --------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            began = time.monotonic()
            while len(batch) < MAX_BATCH:
                remaining = began + MAX_AGE - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=min(QUIET, remaining)))
                except queue.Empty:
                    break
            # The thread keeps one database connection for its whole life (it would
            # otherwise reconnect for every batch, CONN_MAX_AGE being 0); after an error
            # it is closed, and Django opens a fresh one for the next batch.
            try:
                self._process(batch)
            except Exception:
                log.exception("ingest batch of %d items failed", len(batch))
                connection.close()
            if any(item[0] == "stop" for item in batch):
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
            dropped, self._dropped = self._dropped, collections.Counter()
            lines, self._lines = self._lines, {}
        for key, buffer in lines.items():
            p = pending.setdefault(key, _Pending())
            p.lines, p.lines_seen = buffer.lines, buffer.seen
        for key in set(pending) | set(dropped):
            if not key.isdigit():
                continue
            try:
                self._flush(int(key), pending.get(key) or _Pending(), dropped.get(key, 0))
            except Exception:
                log.exception("ingest for sandbox %s failed", key)
                self._kept.pop(int(key), None)  # reload from the database next time
                connection.close()

    def _flush(self, sid: int, p: _Pending, dropped: int) -> None:
        if not p.exchanges and p.stats is None and not dropped:
            if p.lines:  # console only (or a connection event): no database work
                self.publish(sid, {"type": "traffic.batch", **_console(p)})
            return
        kept = self._kept_for(sid)
        with transaction.atomic():
            row = Sandbox.objects.filter(pk=sid).values("last_seq", "ingest_dropped").first()
            if row is None:  # deleted meanwhile: its events have nowhere to go
                self._kept.pop(sid, None)
                return
            first = row["last_seq"] + 1
            last = first + len(p.exchanges) - 1
            new = self._keepable(sid, first, p.exchanges, self._allowance(kept, len(p.exchanges)))
            Exchange.objects.bulk_create(new)
            for ex in new:
                kept.rows.append((ex.seq, ex.stored_bytes))
                kept.total += ex.stored_bytes
            self._evict(sid, kept)
            fields: dict[str, Any] = {"last_seq": last}
            if dropped:
                fields["ingest_dropped"] = row["ingest_dropped"] + dropped
            if p.stats is not None:
                fields.update(_totals(p.stats))
            Sandbox.objects.filter(pk=sid).update(**fields)
        # Every row stored by this batch, and the seq range it covered: seqs in the range
        # but not in items were never stored (a flood), so viewers need not look for them.
        message: dict[str, Any] = {"type": "traffic.batch", "first_seq": first,
                                   "last_seq": last,
                                   "items": [exchanges.summary(ex) for ex in new]}
        if p.stats is not None or dropped:
            message["stats"] = self._stats_message(sid, kept, p.stats)
        if p.lines:
            message.update(_console(p))
        self.publish(sid, message)

    def _allowance(self, kept: _Kept, wanted: int) -> int:
        """How many of ``wanted`` new rows the store rate allows (at least the newest)."""
        now = time.monotonic()
        if kept.tokens is None:
            kept.tokens = self.store_burst
        kept.tokens = min(self.store_burst,
                          kept.tokens + (now - kept.refilled) * self.store_rate)
        kept.refilled = now
        allowed = min(wanted, max(1, int(kept.tokens)))
        kept.tokens -= allowed
        return allowed

    def _keepable(self, sid: int, first: int, events: list[dict[str, Any]],
                  allowed: int) -> list[Exchange]:
        """Rows for the newest events of the batch: at most ``allowed`` and
        ``keep_count``, within ``keep_bytes``; only those are decoded. The others still
        consume their seq, so seq counts every exchange the playground received."""
        start, budget = len(events), self.keep_bytes
        while start > 0 and len(events) - start < min(self.keep_count, allowed):
            ev = events[start - 1]
            size = _b64_len(ev.get("request_b64")) + _b64_len(ev.get("response_b64"))
            if size > budget:
                break
            budget -= size
            start -= 1
        # The playground's own cookies never reach the database (redaction.py).
        return [redaction.redact_exchange(exchanges.from_event(sid, first + i, events[i]))
                for i in range(start, len(events))]

    def _evict(self, sid: int, kept: _Kept) -> None:
        cutoff = None
        while kept.rows and (len(kept.rows) > self.keep_count or kept.total > self.keep_bytes):
            cutoff, size = kept.rows.popleft()
            kept.total -= size
        if cutoff is not None:
            Exchange.objects.filter(sandbox_id=sid, seq__lte=cutoff).delete()

    def _kept_for(self, sid: int) -> _Kept:
        kept = self._kept.get(sid)
        if kept is None:  # first batch since this process started: read what is stored
            kept = self._kept[sid] = _Kept()
            for seq, size in (Exchange.objects.filter(sandbox_id=sid).order_by("seq")
                              .values_list("seq", "stored_bytes")):
                kept.rows.append((seq, size))
                kept.total += size
        return kept

    def _stats_message(self, sid: int, kept: _Kept,
                       stats: dict[str, Any] | None) -> dict[str, Any]:
        sandbox = Sandbox.objects.get(pk=sid)
        body = exchanges.stats(sandbox, stored=len(kept.rows))
        if stats is not None:
            now = (float(stats.get("time") or 0), int(stats.get("exchanges") or 0))
            if kept.last_stats is not None and now[0] > kept.last_stats[0]:
                body["rate"] = round((now[1] - kept.last_stats[1]) /
                                     (now[0] - kept.last_stats[0]), 1)
            kept.last_stats = now
        return body

    def _apply_control(self, kind: str, key: str, arg: Any) -> None:
        if kind in ("sync", "stop"):
            if arg is not None:
                arg.set()
            return
        sid = int(key)
        if kind == "reset":
            self._kept[sid] = _Kept()
            with transaction.atomic():
                Exchange.objects.filter(sandbox_id=sid).delete()
                Sandbox.objects.filter(pk=sid).update(
                    requests=0, errors=0, bytes_in=0, bytes_out=0, connections=0,
                    events_dropped=0, ingest_dropped=0)
            last = Sandbox.objects.filter(pk=sid).values_list("last_seq", flat=True).first()
            self.publish(sid, {"type": "traffic.reset", "last_seq": last or 0})
        elif kind == "status":
            sandbox = Sandbox.objects.filter(pk=sid).first()
            if sandbox is None:  # deleted: forget it and tell its viewers
                self._kept.pop(sid, None)
            # As data: each viewer words it in their own language (consumer.py).
            self.publish(sid, {"type": "sandbox.status", "status": status_facts(sandbox)})


def _console(p: _Pending) -> dict[str, Any]:
    return {"console": list(p.lines), "console_skipped": p.lines_seen - len(p.lines)}


def _b64_len(value: Any) -> int:
    """Decoded length of a base64 string, without decoding it."""
    if not isinstance(value, str) or not value:
        return 0
    return len(value) * 3 // 4 - value.count("=", -2)


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
            _ingestor = Ingestor(settings.PLAYGROUND_INGEST_QUEUE,
                                 settings.PLAYGROUND_RETENTION_EXCHANGES,
                                 settings.PLAYGROUND_RETENTION_BYTES)
        return _ingestor
