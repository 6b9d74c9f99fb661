"""Traffic events and the sink that writes them (the schema is docs/events.md).

The serving loop must never wait for capture. It hands each event to ``EventSink.emit``,
which only appends to a bounded queue; a writer thread serialises events to JSON lines
and writes them. If the writer falls behind (a slow disk, a parent that stopped reading
the pipe), the queue fills and new events are counted as dropped instead of slowing the
server. The writer reports drops in an ``events.dropped`` event as soon as it can.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import IO, Any, Final

SCHEMA_VERSION: Final = 1
# The writer thread's rhythm: how often it writes while events flow, and how many empty
# polls (here 100 ms) before it sleeps until woken. Events wait at most ~5 ms.
POLL_SECONDS: Final = 0.005
IDLE_POLLS: Final = 20


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def micros(seconds: float | None) -> int | None:
    """Unix seconds as whole microseconds: exact in JSON and in JavaScript numbers, and
    several times cheaper to encode than floats (this runs seven times per request)."""
    return None if seconds is None else round(seconds * 1_000_000)


@dataclass(frozen=True)
class ServerListening:
    host: str
    port: int
    url: str
    pid: int
    root: str
    mode: str
    body_cap: int
    type: str = "server.listening"


@dataclass(frozen=True)
class ServerStopping:
    reason: str
    type: str = "server.stopping"


@dataclass(frozen=True)
class ConnectionOpen:
    conn: int
    client: str
    type: str = "connection.open"


@dataclass(frozen=True)
class ConnectionClose:
    conn: int
    exchanges: int
    reason: str
    bytes_in: int
    bytes_out: int
    type: str = "connection.close"


@dataclass(frozen=True)
class ServerStats:
    connections: int
    exchanges: int
    errors: int
    bytes_in: int
    bytes_out: int
    dropped: int
    type: str = "server.stats"


@dataclass(frozen=True)
class EventsDropped:
    count: int
    total: int
    type: str = "events.dropped"


@dataclass(frozen=True)
class Times:
    accepted: float | None = None
    first_byte: float | None = None
    head_complete: float | None = None
    request_complete: float | None = None
    response_start: float | None = None
    response_end: float | None = None


@dataclass(frozen=True)
class Exchange:
    """One request and its response. Bytes stay bytes until the writer thread encodes
    them, so the serving loop pays nothing for base64 or JSON."""

    conn: int
    index: int
    client: str
    method: str | None
    target: str | None
    version: str | None
    status: int | None
    outcome: str
    reason: str | None
    request: bytes
    request_length: int
    response: bytes
    response_length: int
    response_truncated: bool
    times: Times = field(default_factory=Times)
    type: str = "exchange"

    def to_dict(self) -> dict[str, Any]:
        # Written out by hand: this runs for every request, and dataclasses.asdict
        # (a recursive deep copy) would cost more than the JSON encoding itself.
        times = self.times
        return {
            "type": self.type, "conn": self.conn, "index": self.index, "client": self.client,
            "method": self.method, "target": self.target, "version": self.version,
            "status": self.status, "outcome": self.outcome, "reason": self.reason,
            "request_b64": b64(self.request),
            "request_length": self.request_length,
            "request_truncated": len(self.request) < self.request_length,
            "response_b64": b64(self.response),
            "response_length": self.response_length,
            "response_truncated": self.response_truncated,
            "times": {
                "accepted": micros(times.accepted), "first_byte": micros(times.first_byte),
                "head_complete": micros(times.head_complete),
                "request_complete": micros(times.request_complete),
                "response_start": micros(times.response_start),
                "response_end": micros(times.response_end),
            },
        }


Event = (ServerListening | ServerStopping | ConnectionOpen | ConnectionClose | ServerStats
         | EventsDropped | Exchange)


_encode = json.JSONEncoder(separators=(",", ":")).encode


def serialize(event: Event, when: float) -> bytes:
    """One JSON line for an event: the only serialiser, so every line has the same form."""
    body = event.to_dict() if isinstance(event, Exchange) else asdict(event)
    line = {"v": SCHEMA_VERSION, "type": body.pop("type"), "time": when, **body}
    return (_encode(line) + "\n").encode("utf-8")


class EventSink:
    """A bounded queue of events and the writer thread that drains it."""

    def __init__(self, stream: IO[bytes], capacity: int) -> None:
        self._stream = stream
        self._capacity = capacity
        self._queue: deque[tuple[float, Event]] = deque()
        self._wakeup = threading.Event()
        self._writer_idle = True  # wake the writer only when it sleeps: fewer switches
        self._closing = False
        self.dropped_total = 0  # read by the server for server.stats
        self._dropped_reported = 0
        self._writer = threading.Thread(target=self._run, name="henaserver-events",
                                        daemon=True)
        self._writer.start()

    def emit(self, event: Event, when: float | None = None, *, force: bool = False) -> None:
        """Queue an event. Never blocks; counts the event as dropped if the queue is full.

        ``force`` is for the few server events (listening, stats, stopping) that must
        never be lost; they are rare, so they cannot grow the queue without bound.
        """
        if len(self._queue) >= self._capacity and not force:
            self.dropped_total += 1
        else:
            self._queue.append((time.time() if when is None else when, event))
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
        while self._queue:
            when, event = self._queue.popleft()
            lines.append(serialize(event, when))
            if len(lines) >= 256:
                if not self._write(lines):
                    return False
                lines = []
        dropped = self.dropped_total
        if dropped != self._dropped_reported:
            report = EventsDropped(dropped - self._dropped_reported, dropped)
            lines.append(serialize(report, time.time()))
            self._dropped_reported = dropped
        return self._write(lines)

    def _write(self, lines: list[bytes]) -> bool:
        if not lines:
            return True
        try:
            self._stream.write(b"".join(lines))
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
