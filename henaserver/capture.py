"""Traffic events and the sink that writes them (the schema is docs/events.md).

The serving loop must never wait for capture. It hands each event to ``EventSink.emit``,
which only appends to a queue bounded by bytes; a writer thread serialises events to
JSON lines and writes them. If the writer falls behind (a slow disk, a parent that
stopped reading the pipe to make the server feel its back pressure), the queue fills
and new events are counted as dropped instead of slowing the server. The writer reports
drops in an ``events.dropped`` event as soon as it can, and each ``exchange`` event
carries its number, so a reader knows exactly which exchanges it never got.

The bound is in bytes, not events, because an event may be 200 bytes or two 64 KiB
bodies: a count that suits the small ones lets the big ones take gigabytes. It covers
the writer's own batch too: an event leaves the count only once its line is written,
and the writer serialises at most ``WRITE_BYTES`` before it writes them, so a writer
blocked on a full pipe holds no more than the bound.
"""

from __future__ import annotations

import os
import threading
import time
from binascii import b2a_base64
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as json_string
from operator import call
from typing import IO, Any, Final, NamedTuple, get_args, get_type_hints

from .paced import ExchangeProgress
from .relay_events import ExchangeWaiting, Stream

SCHEMA_VERSION: Final = 1
# The writer thread's rhythm: how often it writes while events flow, and how many empty
# polls (here 100 ms) before it sleeps until woken. Events wait at most ~5 ms.
POLL_SECONDS: Final = 0.005
IDLE_POLLS: Final = 20
# What an event costs in the queue, estimated when it is queued (the exact serialized
# size is known only later, in the writer): its bytes as base64 (4/3) plus the JSON
# around them. Close enough to bound memory; cheap enough for the serving loop.
EVENT_OVERHEAD: Final = 400
# Serialised lines the writer gathers before one write: large enough that a write per
# poll carries hundreds of small events, small enough to add little to the queue's bound.
WRITE_BYTES: Final = 256 * 1024


@dataclass
class Stats:
    """Cumulative counters, kept by the server itself (its connections add their bytes)
    so they stay exact even when capture drops events; published as server.stats."""

    connections: int = 0
    exchanges: int = 0
    errors: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    refused_no_fd: int = 0  # answered 503 at once: no file descriptor left (admission.py)


class ServerStartFailed(NamedTuple):
    # Why bind failed (reason: __main__.BIND_ERRORS, or "other"); errno None: no number.
    reason: str
    host: str
    port: int
    errno: int | None
    message: str
    type: str = "server.start_failed"


class ServerListening(NamedTuple):
    host: str
    port: int
    url: str
    pid: int
    root: str
    mode: str
    body_cap: int
    type: str = "server.listening"


class ServerStopping(NamedTuple):
    reason: str  # one of server.STOP_REASONS
    type: str = "server.stopping"


class ConnectionOpen(NamedTuple):
    conn: int
    client: str
    type: str = "connection.open"


class ConnectionClose(NamedTuple):
    conn: int
    exchanges: int
    reason: str
    bytes_in: int
    bytes_out: int
    type: str = "connection.close"


class ServerStats(NamedTuple):
    connections: int
    exchanges: int
    errors: int
    bytes_in: int
    bytes_out: int
    dropped: int
    refused_no_fd: int
    type: str = "server.stats"


class EventsDropped(NamedTuple):
    # Named as in docs/events.md; it shadows tuple.count, which nothing here uses.
    count: int  # type: ignore[assignment]
    total: int
    type: str = "events.dropped"


class Times(NamedTuple):
    accepted: float | None = None
    first_byte: float | None = None
    head_complete: float | None = None
    request_complete: float | None = None
    response_start: float | None = None
    response_end: float | None = None


class Exchange(NamedTuple):
    """One request and its response. Bytes stay bytes until the writer thread encodes
    them: the serving loop pays nothing for base64 or JSON. (NamedTuples: immutable, and
    several times cheaper to build than frozen dataclasses, for one per request.)"""

    conn: int
    # Named as in docs/events.md; it shadows tuple.index, which nothing here uses.
    index: int  # type: ignore[assignment]
    client: str
    method: str | None
    target: str | None
    version: str | None
    status: int | None
    outcome: str
    reason: str | None
    request: bytes
    request_length: int
    request_truncated: bool
    response: bytes
    response_length: int
    response_truncated: bool
    times: Times = Times()
    # 1, 2, 3 ... in the order exchanges ended: server.stats ``exchanges``, set by the
    # server when it ends; a gap a reader sees is exchanges whose events were dropped.
    number: int = 0
    mistake: str | None = None  # the learner's server's, named by the relay (responses.py)
    type: str = "exchange"


Event = (ServerStartFailed | ServerListening | ServerStopping | ConnectionOpen
         | ConnectionClose | ServerStats | EventsDropped | Exchange | Stream | ExchangeWaiting
         | ExchangeProgress)
# The events an events.dropped report goes before (EventSink._drain): a set, looked up
# once per event, where an isinstance on a union built each time cost the writer more.
REPORT_DROPS_BEFORE: Final = frozenset({ServerStats, ServerStopping})


# --- the one serializer ---------------------------------------------------------------
# Each kind of field has one JSON form (docs/events.md): bytes become base64 under a key
# ending in "_b64"; times become whole microseconds since the epoch (exact in JSON and in
# JavaScript numbers, and several times cheaper to write than floats). Every string goes
# through the json module's own escaping (json_string), so each line is valid JSON.
#
# The line of each event type is worked out once, from the type's annotations, when this
# module loads: a template with its keys in field order and a %s for each value, and the
# encoder of each field. Writing an event then fills the template in one step. The one
# event of every request, the exchange, is written out by hand instead (_exchange_line,
# with the same encoders): a busy server writes thousands a second, and the hand-written
# line costs it about 4 µs less per request.

def _text(value: str | None) -> str:
    return "null" if value is None else json_string(value)


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


def _boolean(value: bool) -> str:
    return "true" if value else "false"


def _base64(value: bytes) -> str:
    # binascii's own function: base64.b64encode is a Python wrapper around it.
    return b2a_base64(value, newline=False).decode("ascii")  # the quotes: in the template


def _micros(when: float | None) -> str:
    return "null" if when is None else str(round(when * 1_000_000))


def _times(t: Times) -> str:
    return (f'{{"accepted":{_micros(t.accepted)},"first_byte":{_micros(t.first_byte)},'
            f'"head_complete":{_micros(t.head_complete)},'
            f'"request_complete":{_micros(t.request_complete)},'
            f'"response_start":{_micros(t.response_start)},'
            f'"response_end":{_micros(t.response_end)}}}')


Encoder = Callable[[Any], str]
ENCODERS: Final[dict[object, Encoder]] = {
    int: str, int | None: _number, str: json_string, str | None: _text, bool: _boolean,
    bytes: _base64, Times: _times,
}


def _shape(kind: type[Event]) -> tuple[str, tuple[Encoder, ...]]:
    """The line template of an event type, and the encoder of each of its fields."""
    hints = get_type_hints(kind)
    names = [name for name in kind._fields if name != "type"]  # "type" is last
    keys = "".join(f',"{name}_b64":"%s"' if hints[name] is bytes else f',"{name}":%s'
                   for name in names)
    event_type = kind._field_defaults["type"]
    template = f'{{"v":{SCHEMA_VERSION},"type":"{event_type}","time":%r{keys}}}\n'
    return template, tuple(ENCODERS[hints[name]] for name in names)


SHAPES: Final = {kind: _shape(kind) for kind in get_args(Event)}


def serialize(event: Event, when: float) -> bytes:
    """One JSON line for an event: ``{"v": 1, "type": ..., "time": ..., fields...}``."""
    if type(event) is Exchange:
        return _exchange_line(event, when)
    return from_template(event, when)


def from_template(event: Event, when: float) -> bytes:
    """The line of any event, from its type's template (SHAPES)."""
    template, encoders = SHAPES[type(event)]
    # map stops at the shorter: the last field, "type", is in the template already.
    return (template % (when, *map(call, encoders, event))).encode("ascii")


def _exchange_line(e: Exchange, when: float) -> bytes:
    """The exchange's line written out by hand: the same line as its template's (a test
    compares them), for the one event of every request, at about 4 µs less CPU per
    request than filling the template (bench/cpu_per_request.py; docs/benchmarks.md)."""
    return (f'{{"v":{SCHEMA_VERSION},"type":"exchange","time":{when!r},"conn":{e.conn},'
            f'"index":{e.index},"client":{json_string(e.client)},"method":{_text(e.method)},'
            f'"target":{_text(e.target)},"version":{_text(e.version)},'
            f'"status":{_number(e.status)},"outcome":{json_string(e.outcome)},'
            f'"reason":{_text(e.reason)},"request_b64":"{_base64(e.request)}",'
            f'"request_length":{e.request_length},'
            f'"request_truncated":{_boolean(e.request_truncated)},'
            f'"response_b64":"{_base64(e.response)}","response_length":{e.response_length},'
            f'"response_truncated":{_boolean(e.response_truncated)},'
            f'"times":{_times(e.times)},"number":{e.number},"mistake":{_text(e.mistake)}}}\n'
            ).encode("ascii")


def queued_size(event: Event) -> int:
    """The bytes an event is counted for in the queue (see EVENT_OVERHEAD)."""
    if isinstance(event, Exchange):
        return EVENT_OVERHEAD + (len(event.request) + len(event.response)) * 4 // 3
    if isinstance(event, (Stream, ExchangeProgress)):
        return EVENT_OVERHEAD + len(event.data) * 4 // 3
    return EVENT_OVERHEAD


class EventSink:
    """A queue of events bounded by bytes, and the writer thread that drains it."""

    def __init__(self, stream: IO[bytes], capacity: int) -> None:
        self._stream = stream
        self._capacity = capacity  # bytes (queued_size) the queue may hold
        # Bytes queued = added - taken. Two counters, each written by one thread only
        # (``+=`` is not atomic across threads; a shared one would drift).
        self._added = 0  # by the serving thread
        self._taken = 0  # by the writer thread
        self._queue: deque[tuple[float, Event, int]] = deque()
        self._wakeup = threading.Event()
        self._writer_idle = True  # wake the writer only when it sleeps: fewer switches
        self._closing = False
        self.dropped_total = 0  # read by the server for server.stats
        self._dropped_reported = 0
        self._writer = threading.Thread(target=self._run, name="henaserver-events",
                                        daemon=True)
        self._writer.start()

    def emit(self, event: Event, when: float | None = None, *, force: bool = False) -> None:
        """Queue an event. Never blocks; counts the event as dropped if it does not fit
        in the queue's bytes.

        ``force`` is for the few server events (listening, stats, stopping) that must
        never be lost; they are rare, so they cannot grow the queue without bound.
        """
        size = queued_size(event)
        if self._added - self._taken + size > self._capacity and not force:
            self.dropped_total += 1
        else:
            self._added += size
            self._queue.append((time.time() if when is None else when, event, size))
        if self._writer_idle:
            self._writer_idle = False
            self._wakeup.set()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting at most ``timeout`` seconds), then stop."""
        self._closing = True
        self._writer_idle = False
        self._wakeup.set()
        self._writer.join(timeout)

    def _run(self) -> None:
        # While traffic flows the writer polls every POLL_SECONDS and writes what
        # gathered: a batch per poll, and no wake-up call on the serving thread's path
        # (each wake-up is a lock and a thread switch). After IDLE_POLLS empty polls
        # it sleeps on the event until ``emit`` sees it idle and wakes it.
        while True:
            self._wakeup.wait()
            self._wakeup.clear()
            empty_polls = 0
            while empty_polls < IDLE_POLLS:
                if self._queue:
                    empty_polls = 0
                    if not self._drain():
                        return  # the stream is gone; serving goes on without capture
                elif self._closing:
                    self._drain()  # writes any drop report still owed
                    return
                else:
                    empty_polls += 1
                time.sleep(POLL_SECONDS)
            self._writer_idle = True
            # An event queued just before we said "idle" did not wake us: look again.
            if self._queue or self._closing:
                self._writer_idle = False
                self._wakeup.set()

    def _drain(self) -> bool:
        lines: list[bytes] = []
        size = 0  # bytes of ``lines``
        cost = 0  # their events' queued sizes: counted as queued until written
        while self._queue:
            when, event, queued = self._queue.popleft()
            cost += queued
            if type(event) in REPORT_DROPS_BEFORE:
                # Report drops before the stats that count them, and never after the
                # final server.stopping.
                lines.extend(self._drop_report())
            line = serialize(event, when)
            lines.append(line)
            size += len(line)
            if size >= WRITE_BYTES:
                if not self._write(lines):
                    return False
                self._taken += cost
                lines, size, cost = [], 0, 0
        lines.extend(self._drop_report())
        written = self._write(lines)
        self._taken += cost
        return written

    def _drop_report(self) -> list[bytes]:
        """An events.dropped line if events were dropped since the last report."""
        dropped = self.dropped_total
        if dropped == self._dropped_reported:
            return []
        report = EventsDropped(dropped - self._dropped_reported, dropped)
        self._dropped_reported = dropped
        return [serialize(report, time.time())]

    def _write(self, lines: list[bytes]) -> bool:
        if not lines:
            return True
        data = memoryview(b"".join(lines))
        try:
            # A raw stream may take part of a large write (a signal arriving meanwhile):
            # the rest follows, so no line is ever cut.
            while data:
                data = data[self._stream.write(data):]
            self._stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True


def open_stream(path: str | None, fd: int | None) -> IO[bytes] | None:
    """The byte stream for --events PATH|- or --events-fd N, or None for no capture."""
    if fd is not None:
        return os.fdopen(fd, "wb", buffering=0)
    if path == "-":
        return os.fdopen(os.dup(1), "wb", buffering=0)
    if path is not None:
        return open(path, "ab", buffering=0)
    return None
