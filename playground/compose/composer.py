"""The raw request composer: the tutorial's TCP client (``tcpclient.py``), bounded.

Plain asyncio, no Django: the view (api.py) decides *where* to connect (always
one of the learner's own running sandboxes, never a host or port taken from the user)
and this module only sends bytes and reads what comes back:

* the bytes go out all at once, or in "slow pieces" with a pause before each one after
  the first (to watch a server reassemble a request);
* the answer is read until the server closes the connection, nothing arrives for
  ``IDLE_TIMEOUT`` seconds (a keep-alive server leaves the connection open), the whole
  exchange has taken ``TOTAL_TIMEOUT`` seconds, or ``MAX_RESPONSE_BYTES`` arrived;
* timings are measured from the start of the connect: connected, all sent, first byte
  and last byte of the answer.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..refusals import Refusal, gettext_noop

# A request larger than this is refused before connecting. Enough for a head above
# henaserver's 32 KiB limit (the "oversized header" template) plus a small body; a
# bigger upload is the browser's job, not a hand-typed request's.
MAX_REQUEST_BYTES = 256 * 1024
# Slow sends: at most this many pieces, and at most this long in pauses altogether, so
# one compose never holds a connection (and a playground task) for long.
MAX_PIECES = 20
MAX_SLOW_SECONDS = 5.0
# Connecting to a local sandbox takes well under a millisecond; a refusal is immediate.
CONNECT_TIMEOUT = 3.0
# After the last byte, the answer is considered complete when nothing more arrives for
# this long: a keep-alive server keeps the connection open (henaserver: 5 s idle).
IDLE_TIMEOUT = 1.5
# Hard cap on one exchange, pauses and reading included.
TOTAL_TIMEOUT = 10.0
# The answer is kept up to this size (the page shows it as text and hex); beyond it the
# connection is closed and the result says "truncated".
MAX_RESPONSE_BYTES = 1024 * 1024
READ_CHUNK = 64 * 1024

LINE_ENDINGS = ("crlf", "exact")
_BARE_LF = re.compile(rb"(?<!\r)\n")


class ComposeError(Refusal, ValueError):
    """The request cannot be sent as asked (too big, too many pieces...)."""


def to_crlf(data: bytes, head_only: bool = False) -> bytes:
    """Turn every bare LF into CRLF, leaving existing CRLF alone (RFC 9112 §2.2 wants
    CRLF; a textarea gives LF). With ``head_only``, only up to and including the first
    empty line: a response body keeps its own bytes, so its Content-Length stays right.
    """
    if not head_only:
        return _BARE_LF.sub(b"\r\n", data)
    match = re.search(rb"\r?\n\r?\n", data)
    if match is None:
        return _BARE_LF.sub(b"\r\n", data)
    return _BARE_LF.sub(b"\r\n", data[:match.end()]) + data[match.end():]


def line_endings(data: bytes, choice: str, head_only: bool = False) -> bytes:
    """Apply the learner's line-ending choice: ``crlf`` (convert) or ``exact``."""
    if choice not in LINE_ENDINGS:
        raise ComposeError(gettext_noop("line_endings must be one of %(choices)s"),
                           choices=", ".join(LINE_ENDINGS))
    return to_crlf(data, head_only) if choice == "crlf" else data


def split_pieces(data: bytes, pieces: int) -> list[bytes]:
    """``data`` cut into ``pieces`` parts of (nearly) equal size, none empty."""
    pieces = max(1, min(pieces, len(data) or 1))
    size, extra = divmod(len(data), pieces)
    parts, start = [], 0
    for number in range(pieces):
        end = start + size + (1 if number < extra else 0)
        parts.append(data[start:end])
        start = end
    return parts


def check_plan(data: bytes, pieces: int, delay_ms: int) -> None:
    """Raise ComposeError if the request or its slow plan is beyond the bounds."""
    if not data:
        raise ComposeError(gettext_noop("the request is empty: type at least a request line"))
    if len(data) > MAX_REQUEST_BYTES:
        raise ComposeError(
            gettext_noop("the request is %(size)s bytes; the composer sends at most %(limit)s"),
            size=len(data), limit=MAX_REQUEST_BYTES)
    if not 1 <= pieces <= MAX_PIECES:
        raise ComposeError(gettext_noop("pieces must be between 1 and %(limit)s"),
                           limit=MAX_PIECES)
    if delay_ms < 0 or (pieces - 1) * delay_ms / 1000 > MAX_SLOW_SECONDS:
        raise ComposeError(
            gettext_noop("the pauses between pieces may add up to at most %(seconds)s s"),
            seconds=f"{MAX_SLOW_SECONDS:g}")


@dataclass
class Result:
    """What happened, in the shape the API returns (``as_json``)."""

    request_length: int
    pieces: list[int]
    response: bytearray = field(default_factory=bytearray)
    ended: str = ""  # closed | idle | time_limit | size_limit | refused | send_failed
    error: str | None = None
    connect_ms: float | None = None
    sent_ms: float | None = None
    first_byte_ms: float | None = None
    last_byte_ms: float | None = None
    total_ms: float = 0.0

    @property
    def closed_by_server(self) -> bool:
        return self.ended == "closed"

    def as_json(self, b64: Any) -> dict[str, Any]:
        return {
            "response_b64": b64(bytes(self.response)).decode("ascii"),
            "response_length": len(self.response),
            "request_length": self.request_length,
            "pieces": self.pieces,
            "truncated": self.ended == "size_limit",
            "closed_by_server": self.closed_by_server,
            "ended": self.ended,
            "error": self.error,
            "timings": {"connect": self.connect_ms, "sent": self.sent_ms,
                        "first_byte": self.first_byte_ms, "last_byte": self.last_byte_ms,
                        "total": self.total_ms},
        }


async def send(host: str, port: int, data: bytes, pieces: int = 1,
               delay_ms: int = 0,
               on_connect: Callable[[int], Awaitable[None]] | None = None) -> Result:
    """Connect to ``host:port``, send ``data`` (in ``pieces`` with ``delay_ms`` pauses)
    and read the answer within the bounds above. Never raises for network trouble: the
    result says how it ended. ``on_connect(local_port)`` is awaited once connected and
    before the first byte (a teacher's broadcast registers the port there, so ingest
    can mark the exchange)."""
    check_plan(data, pieces, delay_ms)
    parts = split_pieces(data, pieces)
    result = Result(request_length=len(data), pieces=[len(p) for p in parts])
    start = time.perf_counter()
    deadline = start + TOTAL_TIMEOUT

    def now_ms() -> float:
        return round((time.perf_counter() - start) * 1000, 3)

    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                CONNECT_TIMEOUT)
    except (TimeoutError, OSError) as error:
        result.ended = "refused"
        result.error = f"could not connect to {host}:{port}: {error or 'timed out'}"
        result.total_ms = now_ms()
        return result
    result.connect_ms = now_ms()
    try:
        if on_connect is not None:
            await on_connect(writer.get_extra_info("sockname")[1])
        await _write(writer, parts, delay_ms, result)
        result.sent_ms = now_ms() if result.error is None else None
        await _read(reader, result, deadline, now_ms)
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (TimeoutError, OSError):
            pass
    result.total_ms = now_ms()
    return result


async def _write(writer: asyncio.StreamWriter, parts: list[bytes], delay_ms: int,
                 result: Result) -> None:
    for number, part in enumerate(parts):
        if number and delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        try:
            writer.write(part)
            await writer.drain()
        except OSError as error:
            # The server may answer and close before we finish (431 on a huge head):
            # what it sent is still worth reading.
            result.error = f"the server closed the connection while we were sending " \
                           f"(piece {number + 1} of {len(parts)}): {error}"
            return


async def _read(reader: asyncio.StreamReader, result: Result, deadline: float,
                now_ms: Any) -> None:
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            result.ended = "time_limit"
            return
        # Which bound the wait had decides the name, not a second reading of the clock:
        # a timer may fire a hair before the deadline it was set for.
        bounded_by_deadline = left <= IDLE_TIMEOUT
        try:
            chunk = await asyncio.wait_for(reader.read(READ_CHUNK), min(IDLE_TIMEOUT, left))
        except TimeoutError:
            result.ended = "time_limit" if bounded_by_deadline else "idle"
            return
        except OSError as error:  # a reset: the server closed with our bytes unread
            result.ended = "closed"
            result.error = result.error or f"connection reset by the server: {error}"
            return
        if not chunk:
            result.ended = "closed"
            return
        if result.first_byte_ms is None:
            result.first_byte_ms = now_ms()
        result.last_byte_ms = now_ms()
        room = MAX_RESPONSE_BYTES - len(result.response)
        result.response += chunk[:room]
        if len(chunk) > room:
            result.ended = "size_limit"
            return
