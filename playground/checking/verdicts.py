"""Where a failure points, for the checks (checks_early.py, checks_late.py,
checks_guard.py): at the status code, at a header line or its value (or where a
missing one would go), or at bytes that should never have come. Each returns a Failure whose offset
counts from the first byte of the response, as the traffic view's raw view does."""

from __future__ import annotations

from dataclasses import replace

from playground.refusals import Message

from .client import Conn, Response, window
from .results import CheckFailed, Failure

# How long to wait, after a response that must be the last thing sent (a HEAD's or a
# 304's head), for bytes that should not come: a server that sends them sends them with
# the head, so this is generous.
EXTRA_WAIT = 1.0
# The status code's first byte in "HTTP/1.1 200 OK".
STATUS_CODE = len("HTTP/1.1 ")


def status_line(response: Response) -> str:
    return response.status_line.decode("latin-1")


def at_status(response: Response, message: Message, expected: str) -> Failure:
    """A failure pointing at the status code."""
    return Failure(message, expected=expected, received=window(response.raw, STATUS_CODE),
                   sent=response.sent, offset=STATUS_CODE)


def header_offset(response: Response, name: str) -> int | None:
    """Where the first header line named ``name`` starts in the response, or None."""
    names = [key.lower() for key, _ in response.headers]
    if name.lower() not in names:
        return None
    return response.head.header_offsets[names.index(name.lower())]


def value_offset(response: Response, name: str) -> int:
    """Where the value of the header line ``name`` (present) starts: after its colon
    and the optional spaces or tabs (OWS, RFC 9110 §5.6.3), so "Content-Length:0"
    points at its "0" as "Content-Length: 0" does."""
    at = response.raw.index(b":", header_offset(response, name) or 0) + 1
    while response.raw[at:at + 1] in (b" ", b"\t"):
        at += 1
    return at


def first_difference(body: bytes, expected: bytes) -> int:
    """The index of the first byte where ``body`` and ``expected`` differ (the shorter
    one's length when one is the other's start)."""
    return next((i for i, (a, b) in enumerate(zip(body, expected, strict=False)) if a != b),
                min(len(body), len(expected)))


def before_empty_line(response: Response) -> int:
    """The offset of the empty line that ends the head: where a missing header goes."""
    return max(0, response.head.end - 2)


def at_header(response: Response, name: str, message: Message, expected: str) -> Failure:
    """A failure about the header ``name``: at its line, or where it is missing."""
    offset = header_offset(response, name)
    if offset is None:
        offset = before_empty_line(response)
    return Failure(message, expected=expected, received=window(response.raw, offset),
                   sent=response.sent, offset=offset)


def extra_bytes(conn: Conn, response: Response, message: str,
                seconds: float = EXTRA_WAIT) -> Failure | None:
    """Read on until the server closes (at most ``seconds``): bytes after ``response``
    fail with ``message`` (its ``%(extra)s`` their count), pointing at the first."""
    extra = conn.read_until_close(seconds)
    if not extra:
        return None
    offset = len(response.raw)
    return Failure(Message(message, extra=len(extra)), expected="(nothing)",
                   received=window(response.raw + extra, offset), sent=response.sent,
                   offset=offset)


def reworded(failed: CheckFailed, message: Message) -> CheckFailed:
    """A connection that brought no answer, said for this check: the same exchange,
    without the hint the client chose for an early stage (a reset is "one recv()" in
    stage 1, not here)."""
    return CheckFailed(replace(failed.failure, message=message, hint=""))
