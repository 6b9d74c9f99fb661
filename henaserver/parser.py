"""The request parser: a state machine that turns received bytes into request events.

Like the rest of the HTTP code it never touches a socket (the idea of h11): the
connection feeds it whatever bytes arrived, in any split, and asks for events. The rules
it applies to each part (request line, fields, framing, chunk sizes) are the pure
functions of ``http.py``; this module only knows where each part starts and ends.

States, one request after another (``_HEAD`` ... ``_DEAD`` below)::

    HEAD --head, Content-Length or no body--> BODY --all of it--> HEAD
    HEAD --head, chunked--> CHUNK_SIZE --size > 0--> CHUNK_DATA --> CHUNK_END --> CHUNK_SIZE
                            CHUNK_SIZE --size 0--> TRAILERS --empty line--> HEAD
    any --HTTPError--> DEAD

A request refused for a reason that leaves its framing intact (``RefusedRequest``, so far
only 417) can be read on past: ``read_refused_request`` puts the parser back to reading
that request's body, so the next request is found where this one ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .http import (
    HTTPError,
    RefusedRequest,
    Request,
    RequestHead,
    check_request_line_start,
    find_head_end,
    parse_chunk_size,
    parse_field_line,
    parse_header_section,
    parse_request_line,
)
from .limits import DEFAULT_LIMITS, Limits


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()
Event = RequestHead | Request | _NeedData


# Which part of a request the parser expects next (see the diagram above).
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _DEAD = range(7)

# Empty lines a client may send before a request line (RFC 9112 section 2.2).
_EMPTY_LINES: Final = re.compile(rb"[\r\n]*+")  # possessive: see http.FIELD_LINE


@dataclass
class RequestParser:
    """Turns received bytes into request events, one request after another.

    Call ``feed(data)`` with whatever arrived, then ``next_event()`` until it returns
    ``NEED_DATA``. Pipelined requests come out one by one. After an ``HTTPError`` the
    parser is dead: the connection must answer the error and close, unless the error is
    a ``RefusedRequest`` and the connection calls ``read_refused_request``.
    """

    limits: Limits = DEFAULT_LIMITS
    # Body bytes kept per request (None: all). The relay (relay_connection.py) records
    # requests it does not serve: it forwards every byte, keeps the first ones for the
    # record and only counts the rest, so a 5 MB upload costs it no more than this.
    # Then ``Request.raw`` holds the head and this many bytes of the body as received,
    # ``Request.body`` at most this many decoded bytes, and ``last_length`` the whole.
    keep_body: int | None = None
    last_length: int = 0  # all the bytes of the request last returned, kept or not
    _buffer: bytearray = field(default_factory=bytearray)
    _part: int = _HEAD
    _head: RequestHead | None = None
    _raw: bytearray = field(default_factory=bytearray)  # this request's bytes so far
    _body: bytearray = field(default_factory=bytearray)
    _remaining: int = 0
    _length: int = 0  # this request's bytes so far, kept or not
    _body_length: int = 0  # its decoded body's bytes so far, kept or not
    _keep_until: int = 0  # how long _raw may grow once the head is whole (keep_body)
    _trailer_bytes: int = 0
    _refused: RequestHead | None = None  # the head of a refused, still readable request
    # The request line once its LF has arrived and it passed (method, target, version),
    # and where that LF is in the buffer.
    _line: tuple[str, str, str] | None = None
    _line_end: int = 0
    _line_judged: tuple[int, int] = (0, 0)  # how far the line so far passed its checks
    # How much of the buffer has been searched for the end of the head or of a line:
    # the next search resumes there, so a head sent a byte at a time is searched once,
    # not once per byte. Taking bytes from the buffer resets it.
    _searched: int = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def has_partial_request(self) -> bool:
        """True when some bytes of a request have arrived but it is not complete."""
        if self._raw:
            return True
        # Asked after every request: an empty buffer, the usual case, needs no search.
        return bool(self._buffer) and _EMPTY_LINES.fullmatch(self._buffer) is None

    @property
    def received(self) -> bytes:
        """The bytes of the request in progress, as received (for error reports); with
        ``keep_body``, its body only as far as kept."""
        return bytes(self._raw + self._buffer)

    @property
    def received_length(self) -> int:
        """How many bytes of the request in progress have arrived, kept or not."""
        return self._length + len(self._buffer)

    @property
    def head(self) -> RequestHead | None:
        """The head of the request in progress, once it is complete."""
        return self._head

    def next_event(self) -> Event:
        """Return the next ``RequestHead`` or ``Request``, or ``NEED_DATA``."""
        try:
            if self._part == _HEAD:
                if not self._buffer:
                    # The usual end of a batch: the last request was taken whole. Asked
                    # once per read, so say so without searching an empty buffer.
                    return NEED_DATA
                return self._read_head()
            return self._read_body()
        except HTTPError:
            self._part = _DEAD
            raise

    def read_refused_request(self) -> None:
        """After a ``RefusedRequest``: read that request to its end after all.

        Its framing is known, so its body can be read like any other; its ``Request``
        event then comes as usual (the caller answers it with the refusal, not with a
        handler), and the next request is parsed after it.
        """
        if self._refused is None:
            raise RuntimeError("only a RefusedRequest can be read past")
        self._head, self._refused = self._refused, None
        self._start_body(self._head)

    def _take(self, count: int) -> bytes:
        """Move ``count`` bytes from the buffer into this request's raw bytes."""
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._length += count
        if self._head is None or self.keep_body is None:
            self._raw += data
        elif len(self._raw) < self._keep_until:  # a body kept only up to keep_body
            self._raw += data[:self._keep_until - len(self._raw)]
        self._searched = 0
        return data

    def _read_head(self) -> Event:
        limits = self.limits
        if self._line is None:
            # RFC 9112 section 2.2: ignore empty lines before the request line.
            empty_lines = _EMPTY_LINES.match(self._buffer)
            skip = empty_lines.end() if empty_lines else 0
            if skip:
                self._take(skip)
                if len(self._raw) > limits.max_head_bytes:
                    raise HTTPError(400, "too many empty lines before the request line")
            self._line = self._read_request_line()
            if self._line is None:
                return NEED_DATA
        # Search from the request line's LF: "LF LF" or "LF CR LF" may start there.
        start = max(self._line_end, self._searched - 2)
        head_end, body_start = find_head_end(self._buffer, start)
        if head_end == -1:
            self._searched = len(self._buffer)
            if len(self._buffer) > limits.max_head_bytes:
                raise HTTPError(431, f"request head larger than {limits.max_head_bytes} bytes")
            return NEED_DATA
        # The limit counts the head with its final empty line, so the same request is
        # judged the same however its bytes were split into packets.
        if body_start > limits.max_head_bytes:
            raise HTTPError(431, f"request head larger than {limits.max_head_bytes} bytes")
        line, fields_start = self._line, self._line_end + 1
        self._line = None
        section = self._take(body_start)[fields_start:head_end]
        try:
            head = parse_header_section(line, section, limits)
        except RefusedRequest as refused:
            self._refused = refused.head  # kept for read_refused_request
            raise
        self._head = head
        self._start_body(head)
        return head

    def _read_request_line(self) -> tuple[str, str, str] | None:
        """The request line, checked as its bytes arrive: None until its LF is here.

        A line whose first bytes can never start a request (a TLS handshake, binary, a
        bare CR; see ``check_request_line_start``), or that is already too long, raises
        at once; a complete one is parsed. Only bytes within the line's length limit are
        judged, and in the same order however the bytes were split, so a request gets the
        same answer whether it came in one packet or a byte at a time.
        """
        limit = self.limits.max_request_line
        buffer = self._buffer
        end = buffer.find(b"\n", self._searched, limit + 2)  # beyond: too long anyway
        if end == -1:
            self._searched = min(len(buffer), limit + 2)
            # Only the bytes that came since the last call are judged: a line sent a
            # byte at a time is still read once.
            self._line_judged = check_request_line_start(
                buffer, self._line_judged, min(len(buffer), limit))
            length = len(buffer) - buffer.endswith(b"\r")  # a final CR may start a CRLF
            if length > limit:
                raise HTTPError(414, f"request line longer than {limit} bytes")
            return None
        line = bytes(buffer[:end]).removesuffix(b"\r")
        if len(line) > limit:
            check_request_line_start(line, self._line_judged, limit)
            raise HTTPError(414, f"request line longer than {limit} bytes")
        self._line_end, self._line_judged = end, (0, 0)
        return parse_request_line(line, self.limits)

    def _start_body(self, head: RequestHead) -> None:
        """Expect the body the head announced (RFC 9112 section 6.3)."""
        self._keep_until = len(self._raw) + (self.keep_body or 0)
        if head.framing.kind == "chunked":
            self._part = _CHUNK_SIZE
        else:
            self._part, self._remaining = _BODY, head.framing.length

    def _read_body(self) -> Event:
        limits = self.limits
        while True:
            part = self._part
            if part == _DEAD:
                raise HTTPError(400, "connection unusable after an earlier error")
            if part == _BODY:
                if not self._take_body():
                    return NEED_DATA
                return self._finish()
            if part == _CHUNK_SIZE:
                line = self._take_line(limits.max_chunk_line, "chunk size line")
                if line is None:
                    return NEED_DATA
                self._remaining = parse_chunk_size(line)
                if self._body_length + self._remaining > limits.max_body_bytes:
                    raise HTTPError(413, f"request body over the limit of "
                                         f"{limits.max_body_bytes} bytes")
                self._part = _CHUNK_DATA if self._remaining else _TRAILERS
            elif part == _CHUNK_DATA:
                if not self._take_body():
                    return NEED_DATA
                self._part = _CHUNK_END
            elif part == _CHUNK_END:
                line = self._take_line(2, "chunk data")
                if line is None:
                    return NEED_DATA
                if line:
                    raise HTTPError(400, "chunk data longer than its size")
                self._part = _CHUNK_SIZE
            else:
                # RFC 9112 section 7.1.2: trailer fields follow the last chunk. This
                # server uses none, so it checks their syntax and discards them.
                line = self._take_line(limits.max_head_bytes, "trailer section")
                if line is None:
                    return NEED_DATA
                if not line:
                    return self._finish()
                self._trailer_bytes += len(line)
                if self._trailer_bytes > limits.max_head_bytes:
                    raise HTTPError(431, f"trailer section larger than "
                                         f"{limits.max_head_bytes} bytes")
                parse_field_line(line.decode("latin-1"))

    def _take_body(self) -> bool:
        """Take up to ``_remaining`` body bytes; True once all of them have arrived."""
        take = min(self._remaining, len(self._buffer))
        data = self._take(take)
        self._body_length += take
        if self.keep_body is None:
            self._body += data
        elif len(self._body) < self.keep_body:
            self._body += data[:self.keep_body - len(self._body)]
        self._remaining -= take
        return self._remaining == 0

    def _take_line(self, limit: int, what: str) -> bytes | None:
        """Take one line (without its CRLF or LF) from the buffer, or None if incomplete."""
        end = self._buffer.find(b"\n", self._searched)
        if end == -1:
            self._searched = len(self._buffer)
            if len(self._buffer) > limit:
                raise HTTPError(400, f"{what} too long")
            return None
        if end > limit:
            raise HTTPError(400, f"{what} too long")
        line = self._take(end + 1)[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if b"\r" in line:
            raise HTTPError(400, f"bare CR in {what}")
        return line

    def _finish(self) -> Request:
        assert self._head is not None
        request = Request(self._head, bytes(self._body), bytes(self._raw))
        self.last_length = self._length
        self._part, self._head = _HEAD, None
        self._raw, self._body = bytearray(), bytearray()
        self._length = self._body_length = 0
        self._trailer_bytes = 0
        return request
