"""HTTP/1.1 responses without I/O: what a handler answers, and the bytes it becomes.

A handler (``static.py``, the modes in ``modes.py``) is a function from a ``Request`` to
a ``Response``. The connection adds the fields a server always sends (Date, Server,
Connection), serialises the head with ``response_head`` and sends head and body in one
write. ``raw_response`` is the exception: bytes the user wrote, sent exactly as written
(at once, or over time in ``Piece``s: ``paced.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Final, NamedTuple

from .http import Request, find_head_end, reason_phrase

# The start of a status line (RFC 9112 section 4), to read a raw response's status.
STATUS_LINE: Final = re.compile(rb"HTTP/[0-9]\.[0-9] ([0-9]{3})")


class Piece(NamedTuple):
    """Part of a response sent over time (``paced.py``)."""

    wait: float  # seconds after the request (the first piece) or the previous piece
    data: bytes


@dataclass
class Response:
    """What a handler answers. The connection adds Date, Server and Connection.

    A small body is held in ``body``; a large file is given as ``file`` with an offset
    and length, and the connection streams it with sendfile after the head, so it is
    never read whole into memory. The handler sets Content-Length.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    file: BinaryIO | None = None
    file_offset: int = 0
    file_length: int = 0
    close: bool = False  # close the connection after this response
    # Bytes to send exactly as given, with nothing added (the tutorial's canned replies).
    raw: bytes | None = None
    # Or bytes sent over time, piece by piece, as a rule asked (paced.py).
    pieces: tuple[Piece, ...] | None = None


Handler = Callable[[Request], Response]


def raw_response(data: bytes) -> Response:
    """A response sent byte for byte as the user wrote it.

    The status is read from the status line when there is one (for logs and events).
    The connection is closed afterwards unless the bytes frame themselves correctly
    with a Content-Length equal to the body's length: otherwise the client could not
    tell where this response ends and the next one starts (RFC 9112 section 6.3).
    """
    return Response(status_of(data), [], close=not frames_itself(data), raw=data)


def status_of(data: bytes) -> int:
    """The status code of raw response bytes, 0 when they have no status line."""
    match = STATUS_LINE.match(data)
    return int(match[1]) if match else 0


def frames_itself(data: bytes) -> bool:
    """Whether raw response bytes end where their Content-Length says (RFC 9112
    section 6.3)."""
    head_end, body_start = find_head_end(data)
    if head_end == -1:
        return False
    fields = (line.partition(b":") for line in data[:head_end].split(b"\n")[1:])
    lengths = [value.strip() for name, _, value in fields
               if name.strip().lower() == b"content-length"]
    return lengths == [str(len(data) - body_start).encode()]


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """Serialise a status line and header fields, ending with the empty line.

    The server always answers as HTTP/1.1: RFC 9110 section 6.2 says a server sends the
    highest minor version it conforms to, even to an HTTP/1.0 client.
    """
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def status_has_body(status: int, method: str) -> bool:
    """RFC 9110 sections 6.4.1 and 9.3.2: HEAD, 1xx, 204 and 304 responses have no body."""
    return not (method == "HEAD" or status < 200 or status in (204, 304))
