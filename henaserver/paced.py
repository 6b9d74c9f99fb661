"""Responses sent over time: a response rule (``modes.py``) may wait before it answers,
drip its body a line at a time, send it chunked with trailers, or stream server-sent
events. A browser shows each of these differently; the traffic page shows the response
growing as its bytes leave (the ``exchange.progress`` event below).

A paced response is a list of ``Piece``s, worked out once when the rules file is read:
bytes, and how long to wait before sending them. The connection's output queue
(``output.py``) holds each piece until it is due and the server's loop wakes the
connection then (``Alarms``). Nothing ever sleeps: while a piece waits, the one serving
thread serves everyone else.

How a rule's ``send`` cuts its raw response (``delay_ms`` before the first piece,
``every_ms`` between the next ones):

- ``whole``: all of it at once (after the delay).
- ``drip``: the head, then the body a line at a time, as written (its framing too:
  with no Content-Length, the body ends when the server closes).
- ``chunked``: the head, then each body line as one chunk (RFC 9112 section 7.1):
  henaserver frames the body itself, so the head loses any Content-Length and gains
  ``Transfer-Encoding: chunked``. The fields the head names in ``Trailer`` (RFC 9110
  section 6.6.2) leave the head and are sent after the last chunk, as trailer fields.
- ``events``: the head, then the body one server-sent event at a time: each event ends
  with an empty line (the HTML standard's text/event-stream format).
"""

from __future__ import annotations

import heapq
import re
from typing import Any, Final, NamedTuple

from .http import find_head_end
from .response import Piece, Response, frames_itself, status_of

SENDS: Final = ("whole", "drip", "chunked", "events")
# Bounds, so a rule cannot hold a connection for ever nor wake the loop too often.
# A delay stays below the send timeout a client is allowed (Limits.send_timeout, 30 s).
MAX_DELAY_MS: Final = 20_000
MAX_EVERY_MS: Final = 5_000
# A whole paced response, first byte to last: one rule holds a connection at most this.
MAX_TOTAL_MS: Final = 120_000
# Each piece is one write and one event: 1,000 lines are plenty to watch one arrive.
MAX_PIECES: Final = 1000


class Paced(NamedTuple):
    """A rule's response cut into pieces, and whether it frames itself (else the
    connection closes after it: the client could not tell where it ends)."""

    pieces: tuple[Piece, ...]
    framed: bool


class ExchangeProgress(NamedTuple):
    """A paced response's piece has been written: one event per piece, its bytes
    recorded up to the capture cap (docs/events.md)."""

    conn: int
    index: int  # type: ignore[assignment]  # as in docs/events.md; shadows tuple.index
    method: str | None
    target: str | None
    since: int  # microseconds: when the request was whole
    sent: int  # response bytes written so far
    offset: int  # where ``data`` starts in the response
    data: bytes  # the bytes written since the previous progress event, up to the cap
    type: str = "exchange.progress"


def pace_of(entry: dict[str, Any], number: int) -> tuple[str, int, int]:
    """A rules-file entry's ``send``, ``delay_ms`` and ``every_ms``, checked; ValueError
    with a readable message when one is wrong."""
    send = entry.get("send", "whole")
    if send not in SENDS:
        raise ValueError(f"rule {number}: send must be one of {', '.join(SENDS)}")
    delay, every = entry.get("delay_ms", 0), entry.get("every_ms", 0)
    for name, value, top in (("delay_ms", delay, MAX_DELAY_MS), ("every_ms", every, MAX_EVERY_MS)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            raise ValueError(f"rule {number}: {name} must be a whole number from 0 to {top}")
    return send, delay, every


def paced(raw: bytes, send: str, delay_ms: int, every_ms: int, number: int = 1) -> Paced:
    """Cut a raw response into pieces (see the module docstring); ValueError when the
    result is longer than the bounds allow."""
    head_end, body_start = find_head_end(raw)
    if send == "whole" or head_end == -1:
        parts, framed = [raw], frames_itself(raw)
    else:
        head, body = raw[:body_start], raw[body_start:]
        if send == "chunked":
            head, trailer = _chunked_head(raw[:head_end])
            lines = body.splitlines(keepends=True)
            parts = [head, *(b"%X\r\n%s\r\n" % (len(line), line) for line in lines),
                     b"0\r\n" + trailer + b"\r\n"]
            framed = True
        else:
            cut = _events(body) if send == "events" else body.splitlines(keepends=True)
            parts, framed = [head, *cut], frames_itself(raw)
    total = delay_ms + every_ms * (len(parts) - 1)
    if len(parts) > MAX_PIECES or total > MAX_TOTAL_MS:
        raise ValueError(f"rule {number}: {len(parts)} pieces over {total} ms; at most "
                         f"{MAX_PIECES} pieces over {MAX_TOTAL_MS} ms")
    waits = [delay_ms / 1000] + [every_ms / 1000] * (len(parts) - 1)
    return Paced(tuple(Piece(w, p) for w, p in zip(waits, parts, strict=True)), framed)


def paced_response(plan: Paced) -> Response:
    """A rule's response sent over time, its status read as for a raw one
    (``response.raw_response``); the connection closes afterwards unless the pieces
    frame themselves."""
    return Response(status_of(plan.pieces[0].data), [], close=not plan.framed,
                    pieces=plan.pieces)


def _chunked_head(head: bytes) -> tuple[bytes, bytes]:
    """The head of a chunked response, and its trailer section (without the final
    empty line): the fields named in ``Trailer`` move to the trailer; Content-Length
    and Transfer-Encoding are replaced by ``Transfer-Encoding: chunked``."""
    status_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    fields = [line.rstrip(b"\r").partition(b":") for line in head.split(b"\n")[1:] if line]
    named = {n.strip().lower() for name, _, value in fields
             if name.strip().lower() == b"trailer" for n in value.split(b",")}
    kept, trailer = [status_line], list[bytes]()
    for name, colon, value in fields:
        key = name.strip().lower()
        if key in (b"content-length", b"transfer-encoding"):
            continue
        (trailer if key in named else kept).append(name + colon + value)
    kept.append(b"Transfer-Encoding: chunked")
    ending = b"".join(line + b"\r\n" for line in trailer)
    return b"\r\n".join(kept) + b"\r\n\r\n", ending


# An event: any lines up to and including an empty line (or the end of the body).
EVENT: Final = re.compile(rb".*?(?:\r?\n\r?\n|\r\r|\Z)", re.S)


def _events(body: bytes) -> list[bytes]:
    return [event for event in EVENT.findall(body) if event]


class Alarms:
    """Connections waiting for their next piece to be due, soonest first (the server's
    loop sleeps no longer than the soonest, then wakes each one due)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._armed: dict[int, float] = {}  # connection id -> its soonest alarm

    def __bool__(self) -> bool:
        return bool(self._heap)

    def set(self, connection: Any, when: float) -> None:
        """Wake ``connection`` (``on_writable``) at ``when`` (``time.time()``)."""
        armed = self._armed.get(connection.id)
        if armed is not None and armed <= when:
            return  # an earlier alarm wakes it first; it sets the next one then
        self._armed[connection.id] = when
        heapq.heappush(self._heap, (when, connection.id, connection))

    def timeout(self, longest: float, now: float) -> float:
        """How long the loop may sleep: ``longest``, or less if an alarm is due sooner."""
        return min(longest, max(0.0, self._heap[0][0] - now)) if self._heap else longest

    def due(self, now: float) -> list[Any]:
        """The connections whose alarm has come, each once."""
        woken = []
        while self._heap and self._heap[0][0] <= now:
            when, conn_id, connection = heapq.heappop(self._heap)
            if self._armed.get(conn_id) == when:
                del self._armed[conn_id]
                woken.append(connection)
        return woken


def progress_event(record: Any, conn: int, offset: int, data: bytes) -> ExchangeProgress:
    """The ``exchange.progress`` event of a paced response (``record``: its
    ``exchange.ExchangeRecord``) whose bytes up to ``offset + len(data)`` are written."""
    head = record.head
    since = record.request_complete or record.head_complete or 0.0
    return ExchangeProgress(conn, record.index, head.method if head else None,
                            head.target if head else None, round(since * 1_000_000),
                            record.response_length, offset, data)
