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
NOT_ACCEPTING: Final = "not_accepting"
# No Content-Length, not chunked, and the connection left open: the body ends only when
# the server closes (rule 4 above), which it never did, so the browser spins for ever.
NO_LENGTH_NEVER_CLOSED: Final = "no_length_never_closed"
MISTAKES: Final = (CLOSED_WITHOUT_RESPONSE, NO_STATUS_LINE, BODY_TOO_SHORT, BODY_TOO_LONG,
                   NEVER_ANSWERED, BARE_LF, NOT_LISTENING, NOT_ACCEPTING,
                   NO_LENGTH_NEVER_CLOSED)

# status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4).
# Lenient on the reason (any bytes but CR/LF), strict on version and code.
STATUS_LINE: Final = re.compile(rb"HTTP/[0-9]\.[0-9] ([0-9]{3})(?: [^\r\n]*)?\r?")
STATUS_START: Final = b"HTTP/"
# A head that never ends is not a response: past this, the bytes are called what they are.
MAX_HEAD: Final = 64 * 1024
# A framing field's line (names are case-insensitive; whitespace around the name is
# tolerated, as a lenient reader does).
FRAMING_FIELD: Final = re.compile(rb"\n[ \t]*(content-length|transfer-encoding)[ \t]*:"
                                  rb"([^\n]*)", re.IGNORECASE)
# A LF with no CR before it (RFC 9112 section 2.2: a sender MUST use CRLF).
BARE_LF_AT: Final = re.compile(rb"(?<!\r)\n")


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


@dataclass
class Response:
    """One response as the server sent it: its bytes as kept (any 1xx before it and the
    head whole, the body up to the reader's cap) and what the reader learned from them."""

    raw: bytes
    status: int | None
    complete: bool = True  # False: the server closed (or was cut off) before its end
    mistake: str | None = None
    length: int = -1  # all its bytes, kept or not (-1: len(raw))

    def __post_init__(self) -> None:
        if self.length < 0:
            self.length = len(self.raw)


# Which part of a response the reader expects next.
_HEAD, _BODY, _UNTIL_CLOSE, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS = range(7)
# A chunk-size or trailer line longer than this is not one: the rest runs until close.
MAX_LINE: Final = 8 * 1024


@dataclass
class ResponseReader:
    """Bytes from a server in, responses out (``feed``, then ``next_response``).

    Bodies are consumed as they arrive, so a 1 GB download costs the reader no more
    than ``cap`` bytes: it keeps the head whole and the body up to ``cap`` for the
    record, and counts the rest.
    """

    cap: int = 64 * 1024
    _buffer: bytearray = field(default_factory=bytearray)
    _closed: bool = False  # the server closed its side: no more bytes will come
    _part: int = _HEAD
    _kept: bytearray = field(default_factory=bytearray)  # this response, as recorded
    _keep_until: int = 0  # how long _kept may grow: its head plus ``cap``
    _length: int = 0  # this response's bytes so far, kept or not
    _status: int | None = None
    _mistake: str | None = None
    _remaining: int = 0

    def feed(self, data: bytes) -> None:
        """Append bytes the server sent."""
        self._buffer += data

    def close(self) -> None:
        """The server closed its side: what is buffered is all there will be."""
        self._closed = True

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def until_close(self) -> bool:
        """Whether the response in progress has neither length nor chunks: only the
        server's close can end it."""
        return self._part == _UNTIL_CLOSE

    @property
    def started(self) -> bool:
        """Whether any byte of the next response has arrived."""
        return bool(self._buffer) or self._length > 0

    def next_response(self, method: str) -> Response | _NeedData:
        """The next whole response to a request with ``method``, or ``NEED_DATA``.

        After ``close`` it never returns ``NEED_DATA``: an unfinished response comes out
        with ``complete=False`` and its mistake.
        """
        while True:
            part = self._part
            if part == _HEAD:
                result = self._read_head(method)
                if result is not None:
                    return result
            elif part == _BODY:
                self._remaining -= self._take(min(self._remaining, len(self._buffer)))
                return self._need() if self._remaining else self._finish()
            elif part == _UNTIL_CLOSE:
                self._take(len(self._buffer))
                return self._finish() if self._closed else NEED_DATA
            elif part == _CHUNK_DATA:
                taken = self._take(min(self._remaining, len(self._buffer)))
                self._remaining -= taken
                if self._remaining:
                    return self._need()
                self._part = _CHUNK_END
            else:  # a line: chunk size, the end of a chunk's data, or a trailer
                line = self._take_line()
                if line is None:
                    return self._need()
                if self._part == _UNTIL_CLOSE:
                    continue  # a line too long to be one: not chunked after all
                self._read_chunk_line(part, line)
                if self._part == _HEAD:
                    return self._finish()

    def partial(self) -> Response:
        """The response in progress as it stands (the server stopped, or the browser
        left), and anything buffered after it; the reader starts afresh."""
        self._take(len(self._buffer))
        return self._finish(complete=False)

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

    # --- the parts --------------------------------------------------------------------

    def _read_head(self, method: str) -> Response | _NeedData | None:
        """Read a head (any 1xx first); None when the body follows, to be read next."""
        buffer = self._buffer
        if not buffer:
            if self._closed:
                return self._finish(complete=False, mistake=CLOSED_WITHOUT_RESPONSE
                                    if not self._length else BODY_TOO_SHORT)
            return NEED_DATA
        if not self.starts_like_response():
            # Not HTTP: the bytes so far are this answer; what follows is a raw stream.
            self._take_all_kept()
            return self._finish(complete=False, mistake=NO_STATUS_LINE)
        head_end, body_start = find_head_end(buffer)
        if head_end == -1:
            if self._closed or len(buffer) > MAX_HEAD:
                status = status_of(buffer)
                self._take_all_kept()
                return self._finish(complete=False, status=status,
                                    mistake=BODY_TOO_SHORT if status else NO_STATUS_LINE)
            return NEED_DATA
        status = status_of(buffer[:body_start])
        if status is None:
            self._take_all_kept()
            return self._finish(complete=False, mistake=NO_STATUS_LINE)
        head = bytes(buffer[:body_start])
        if self._mistake is None and BARE_LF_AT.search(head):
            self._mistake = BARE_LF
        self._keep_until = len(self._kept) + body_start + self.cap
        self._take(body_start)
        self._status = status
        if 100 <= status < 200 and status != 101:
            return None  # an interim response: the final one follows, same record
        fields = header_fields(head)
        if method == "HEAD" or status in (101, 204, 304):
            self._part, self._remaining = _BODY, 0
        elif "chunked" in fields.get("transfer-encoding", "").lower():
            self._part = _CHUNK_SIZE
        elif fields.get("content-length", "").strip().isdigit():
            self._part, self._remaining = _BODY, int(fields["content-length"].strip())
        else:
            self._part = _UNTIL_CLOSE
        return None

    def _read_chunk_line(self, part: int, line: bytes) -> None:
        if part == _CHUNK_SIZE:
            try:
                self._remaining = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self._part = _UNTIL_CLOSE  # not chunked after all: keep it all
                return
            self._part = _CHUNK_DATA if self._remaining else _TRAILERS
        elif part == _CHUNK_END:
            self._part = _CHUNK_SIZE if not line.strip() else _UNTIL_CLOSE
        elif not line.strip():  # the empty line after the trailers: the end
            self._part = _HEAD

    def _need(self) -> Response | _NeedData:
        """More bytes are needed; after close there will be none: cut short."""
        if not self._closed:
            return NEED_DATA
        return self._finish(complete=False, mistake=BODY_TOO_SHORT)

    # --- bytes ------------------------------------------------------------------------

    def _take(self, count: int) -> int:
        """Move ``count`` bytes from the buffer into this response (kept up to the cap)."""
        if count:
            room = self._keep_until - len(self._kept)
            if room > 0:
                self._kept += self._buffer[:min(room, count)]
            del self._buffer[:count]
            self._length += count
        return count

    def _take_all_kept(self) -> None:
        """A head that is no head: all of it is kept, whatever the cap."""
        self._keep_until = len(self._kept) + len(self._buffer)
        self._take(len(self._buffer))

    def _take_line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end == -1:
            if len(self._buffer) > MAX_LINE:
                self._part = _UNTIL_CLOSE
                return b""
            return None
        line = bytes(self._buffer[:end])
        self._take(end + 1)
        return line

    def _finish(self, *, complete: bool = True, status: int | None = None,
                mistake: str | None = None) -> Response:
        response = Response(bytes(self._kept), status or self._status, complete,
                            mistake or self._mistake, self._length)
        self._part, self._kept, self._keep_until = _HEAD, bytearray(), 0
        self._length, self._status, self._mistake, self._remaining = 0, None, None, 0
        return response


def status_of(head: bytes | bytearray, start: int = 0) -> int | None:
    """The status code of a head's first line, or None if it is no status line."""
    end = head.find(b"\n", start)
    line = head[start:end if end != -1 else len(head)]
    match = STATUS_LINE.fullmatch(line)
    return int(match[1]) if match else None


def header_fields(head: bytes) -> dict[str, str]:
    """The framing fields' values by lower-case name: ``content-length`` and
    ``transfer-encoding`` (the last line of a name wins: this is for finding the
    framing, and a server sending two different lengths is wrong anyway). One regular
    expression over the head instead of decoding every field: the relay reads a head
    per response, and only these two say where it ends."""
    fields: dict[str, str] = {}
    for name, value in FRAMING_FIELD.findall(head):
        fields[name.decode("latin-1").lower()] = value.strip().decode("latin-1")
    return fields
