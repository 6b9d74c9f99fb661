"""The response reader: turns bytes a server sent into responses, without any I/O.

The relay (``relay.py``) stands between a browser and a learner's server. It must find
where each response ends to split the stream into exchanges, and it must say what the
server did wrong. Like ``parser.py`` this never touches a socket: the relay feeds it
whatever bytes arrived and asks for the next response, telling it the method of the
request being answered (a response to HEAD never has a body, RFC 9110 section 9.3.2).

How a response's end is found (RFC 9112 section 6.3), in this order:

1. a response to HEAD, and every 1xx, 204 and 304: no body;
2. ``Transfer-Encoding: chunked``: the chunks, up to the last (size 0) and its trailers;
3. ``Content-Length: N``: exactly N bytes;
4. neither: the body runs until the server closes the connection.

The reader is lenient where a browser is (a bare LF ends a line) but notes it: every
mistake it can see is a ``MISTAKES`` name, documented in docs/events.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .http import find_head_end

# What the learner's server did wrong, as the exchange event's ``mistake`` names it.
CLOSED_WITHOUT_RESPONSE: Final = "closed_without_response"
NO_STATUS_LINE: Final = "no_status_line"
BODY_TOO_SHORT: Final = "body_too_short"
BODY_TOO_LONG: Final = "body_too_long"
NEVER_ANSWERED: Final = "never_answered"
BARE_LF: Final = "bare_lf"
NOT_LISTENING: Final = "not_listening"
MISTAKES: Final = (CLOSED_WITHOUT_RESPONSE, NO_STATUS_LINE, BODY_TOO_SHORT, BODY_TOO_LONG,
                   NEVER_ANSWERED, BARE_LF, NOT_LISTENING)

# status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4).
# Lenient on the reason (any bytes but CR/LF), strict on version and code.
STATUS_LINE: Final = re.compile(rb"HTTP/[0-9]\.[0-9] ([0-9]{3})(?: [^\r\n]*)?\r?")
STATUS_START: Final = b"HTTP/"
# A head that never ends is not a response: past this, the bytes are called what they are.
MAX_HEAD: Final = 64 * 1024
# A LF with no CR before it (RFC 9112 section 2.2: a sender MUST use CRLF).
BARE_LF_AT: Final = re.compile(rb"(?<!\r)\n")


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


@dataclass
class Response:
    """One response as the server sent it: its exact bytes (any 1xx before it included)
    and what the reader learned from them."""

    raw: bytes
    status: int | None
    complete: bool = True  # False: the server closed (or was cut off) before its end
    mistake: str | None = None


@dataclass
class ResponseReader:
    """Bytes from a server in, responses out (``feed``, then ``next_response``)."""

    _buffer: bytearray = field(default_factory=bytearray)
    _closed: bool = False  # the server closed its side: no more bytes will come

    def feed(self, data: bytes) -> None:
        """Append bytes the server sent."""
        self._buffer += data

    def close(self) -> None:
        """The server closed its side: what is buffered is all there will be."""
        self._closed = True

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def next_response(self, method: str) -> Response | _NeedData:
        """The next whole response to a request with ``method``, or ``NEED_DATA``.

        After ``close`` it never returns ``NEED_DATA`` while bytes are buffered: an
        unfinished response comes out with ``complete=False`` and its mistake.
        """
        buffer = self._buffer
        if not buffer:
            if self._closed:
                return Response(b"", None, False, CLOSED_WITHOUT_RESPONSE)
            return NEED_DATA
        if not self.starts_like_response():
            # Not HTTP: the bytes so far are this answer; what follows is a raw stream.
            return self._take(len(buffer), None, NO_STATUS_LINE, complete=False)
        start, status, mistake = 0, None, None
        while True:  # any 1xx interim responses come first, in the same record
            head_end, body_start = find_head_end(buffer, start)
            if head_end == -1:
                if self._closed or len(buffer) - start > MAX_HEAD:
                    status = status_of(buffer, start)
                    return self._take(len(buffer), status, BODY_TOO_SHORT
                                      if status else NO_STATUS_LINE, complete=False)
                return NEED_DATA
            head = bytes(buffer[start:body_start])
            status = status_of(head)
            if status is None:
                return self._take(len(buffer), None, NO_STATUS_LINE, complete=False)
            if mistake is None and BARE_LF_AT.search(head):
                mistake = BARE_LF
            if 100 <= status < 200 and status != 101:
                start = body_start  # an interim response: the final one follows
                continue
            break
        length = self._body_length(head, status, method, body_start)
        if length is None:  # until close
            if not self._closed:
                return NEED_DATA
            return self._take(len(buffer), status, mistake)
        end = body_start + length
        if len(buffer) < end or length < 0:
            if not self._closed:
                return NEED_DATA
            return self._take(len(buffer), status, BODY_TOO_SHORT, complete=False)
        return self._take(end, status, mistake)

    def starts_like_response(self) -> bool:
        """Whether the buffered bytes begin (or could still begin) with ``HTTP/``."""
        size = min(len(self._buffer), len(STATUS_START))
        return self._buffer[:size] == STATUS_START[:size]

    def take_extra(self, *, stop_at_status: bool) -> bytes:
        """Buffered bytes that belong to no response (relay_connection.py): all of
        them, or (``stop_at_status``) those before the next ``HTTP/``, where the next
        response may begin."""
        end = len(self._buffer)
        if stop_at_status:
            found = self._buffer.find(STATUS_START, 1)
            end = end if found == -1 else found
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    def _take(self, count: int, status: int | None, mistake: str | None, *,
              complete: bool = True) -> Response:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return Response(data, status, complete, mistake)

    def _body_length(self, head: bytes, status: int, method: str,
                     body_start: int) -> int | None:
        """Body bytes after ``body_start``, or None for a body that runs until close.
        A chunked body's length is found by walking its chunks (-1: not all here yet)."""
        if method == "HEAD" or status in (101, 204, 304):
            return 0
        fields = header_fields(head)
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return chunked_length(self._buffer, body_start)
        length = fields.get("content-length", "").strip()
        if length.isdigit():
            return int(length)
        return None


def status_of(head: bytes | bytearray, start: int = 0) -> int | None:
    """The status code of a head's first line, or None if it is no status line."""
    end = head.find(b"\n", start)
    line = head[start:end if end != -1 else len(head)]
    match = STATUS_LINE.fullmatch(line)
    return int(match[1]) if match else None


def header_fields(head: bytes) -> dict[str, str]:
    """Field values by lower-case name (the last line of a name wins: this is for
    finding the framing, and a server sending two different lengths is wrong anyway)."""
    fields: dict[str, str] = {}
    for line in head.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            fields[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return fields


def chunked_length(buffer: bytes | bytearray, start: int) -> int:
    """How many bytes after ``start`` the chunked body takes, trailers included, or -1
    if it has not all arrived (or cannot be read: then it ends at close, cut short)."""
    at = start
    while True:
        line_end = buffer.find(b"\n", at)
        if line_end == -1:
            return -1
        size_text = bytes(buffer[at:line_end]).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return -1
        at = line_end + 1
        if size == 0:
            break
        at += size
        if buffer[at:at + 2] == b"\r\n":
            at += 2
        elif buffer[at:at + 1] == b"\n":
            at += 1
        else:
            return -1
    while True:  # trailer lines, then the empty line
        line_end = buffer.find(b"\n", at)
        if line_end == -1:
            return -1
        line = buffer[at:line_end]
        at = line_end + 1
        if line in (b"", b"\r"):
            return at - start
