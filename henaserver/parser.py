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

from dataclasses import dataclass, field
from typing import Final

from .http import (
    HTTPError,
    RefusedRequest,
    Request,
    RequestHead,
    find_head_end,
    parse_chunk_size,
    parse_field_line,
    parse_head,
)
from .limits import DEFAULT_LIMITS, Limits


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()
Event = RequestHead | Request | _NeedData


# Which part of a request the parser expects next (see the diagram above).
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _DEAD = range(7)


@dataclass
class RequestParser:
    """Turns received bytes into request events, one request after another.

    Call ``feed(data)`` with whatever arrived, then ``next_event()`` until it returns
    ``NEED_DATA``. Pipelined requests come out one by one. After an ``HTTPError`` the
    parser is dead: the connection must answer the error and close, unless the error is
    a ``RefusedRequest`` and the connection calls ``read_refused_request``.
    """

    limits: Limits = DEFAULT_LIMITS
    _buffer: bytearray = field(default_factory=bytearray)
    _part: int = _HEAD
    _head: RequestHead | None = None
    _raw: bytearray = field(default_factory=bytearray)  # this request's bytes so far
    _body: bytearray = field(default_factory=bytearray)
    _remaining: int = 0
    _trailer_bytes: int = 0
    _refused: RequestHead | None = None  # the head of a refused, still readable request

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def has_partial_request(self) -> bool:
        """True when some bytes of a request have arrived but it is not complete."""
        return bool(self._raw) or bool(self._buffer.strip(b"\r\n"))

    @property
    def received(self) -> bytes:
        """The bytes of the request in progress, as received (for error reports)."""
        return bytes(self._raw + self._buffer)

    @property
    def head(self) -> RequestHead | None:
        """The head of the request in progress, once it is complete."""
        return self._head

    def next_event(self) -> Event:
        """Return the next ``RequestHead`` or ``Request``, or ``NEED_DATA``."""
        try:
            if self._part == _HEAD:
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
        self._raw += data
        return data

    def _read_head(self) -> Event:
        # RFC 9112 section 2.2: ignore empty lines before the request line.
        skip = len(self._buffer) - len(self._buffer.lstrip(b"\r\n"))
        if skip:
            self._take(skip)
            if len(self._raw) > self.limits.max_head_bytes:
                raise HTTPError(400, "too many empty lines before the request line")
        head_end, body_start = find_head_end(self._buffer)
        if head_end == -1:
            self._check_incomplete_head()
            return NEED_DATA
        # The limit counts the head with its final empty line, so the same request is
        # judged the same however its bytes were split into packets.
        if body_start > self.limits.max_head_bytes:
            self._check_incomplete_head()
            raise HTTPError(431, f"request head larger than {self.limits.max_head_bytes} bytes")
        raw_head = self._take(body_start)
        try:
            head = parse_head(raw_head[:head_end].rstrip(b"\r\n"), self.limits)
        except RefusedRequest as refused:
            self._refused = refused.head  # kept for read_refused_request
            raise
        self._head = head
        self._start_body(head)
        return head

    def _start_body(self, head: RequestHead) -> None:
        """Expect the body the head announced (RFC 9112 section 6.3)."""
        if head.framing.kind == "chunked":
            self._part = _CHUNK_SIZE
        else:
            self._part, self._remaining = _BODY, head.framing.length

    def _check_incomplete_head(self) -> None:
        """Reject a head that is already too long, without waiting for its end."""
        line_end = self._buffer.find(b"\n")
        first_line = len(self._buffer) if line_end == -1 else line_end
        if self._buffer[first_line - 1:first_line] == b"\r":
            first_line -= 1  # the CR of a CRLF is not part of the line
        if first_line > self.limits.max_request_line:
            raise HTTPError(414, f"request line longer than {self.limits.max_request_line} bytes")
        if len(self._buffer) > self.limits.max_head_bytes:
            raise HTTPError(431, f"request head larger than {self.limits.max_head_bytes} bytes")

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
                if len(self._body) + self._remaining > limits.max_body_bytes:
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
                parse_field_line(line)

    def _take_body(self) -> bool:
        """Take up to ``_remaining`` body bytes; True once all of them have arrived."""
        take = min(self._remaining, len(self._buffer))
        self._body += self._take(take)
        self._remaining -= take
        return self._remaining == 0

    def _take_line(self, limit: int, what: str) -> bytes | None:
        """Take one line (without its CRLF or LF) from the buffer, or None if incomplete."""
        end = self._buffer.find(b"\n")
        if end == -1:
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
        self._part, self._head = _HEAD, None
        self._raw, self._body = bytearray(), bytearray()
        self._trailer_bytes = 0
        return request
