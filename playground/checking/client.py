"""The checker's side of a connection: send requests (whole or in pieces), read
responses byte by byte against a deadline.

``Conn.read_response`` never hangs: every wait is bounded by the check's deadline and
wakes every ``SLICE`` seconds to see whether the run was stopped. A response that
breaks a rule raises ``CheckFailed`` whose Failure points at the byte (heads.py for the
head; the body by its framing: Content-Length, chunked, or the end of the connection).
Bytes already received stay in the buffer, so a check can still look at them
(``Conn.received``).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from playground.refusals import Message, gettext_noop

from .heads import MAX_HEAD, Head, Problem, head_length, scan_head
from .results import Cancelled, CheckFailed, Failure, Sent

SLICE = 0.2
ASCII_DIGITS = "0123456789"
HEXDIGITS = "0123456789abcdefABCDEF"
WINDOW = 2048

SILENT = gettext_noop("No response within %(seconds)s seconds.")
CLOSED_EMPTY = gettext_noop("The server closed the connection without sending anything.")
RESET = gettext_noop("The server reset the connection (it closed without reading "
                     "everything that was sent to it).")
SHORT_BODY = gettext_noop("The body ended after %(got)s bytes, but Content-Length says "
                          "%(length)s.")
SLOW_BODY = gettext_noop("Only %(got)s of the %(length)s bytes that Content-Length "
                         "announces arrived within %(seconds)s seconds.")
BAD_LENGTH = gettext_noop("Content-Length must be one number of bytes, got %(value)s.")
NEVER_CLOSED = gettext_noop("No Content-Length, so the body ends when the connection "
                            "closes, but the server kept it open for %(seconds)s seconds.")
BAD_CHUNK = gettext_noop("A chunk of the chunked body is malformed (byte %(offset)s).")
SEND_FAILED = gettext_noop("The server closed the connection while the request was being "
                           "sent (%(sent)s of %(total)s bytes sent).")


@dataclass(frozen=True)
class Response:
    """One response as received: ``raw`` is all of it (head, empty line, body), and
    every offset counts from its first byte, as the traffic view's raw view does."""

    raw: bytes
    head: Head
    body: bytes
    framing: str   # "length" | "chunked" | "close" | "none" (HEAD, 1xx, 204, 304)
    sent: Sent

    @property
    def status(self) -> int:
        return self.head.status

    @property
    def status_line(self) -> bytes:
        return self.head.status_line

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return self.head.headers

    @property
    def body_offset(self) -> int:
        return self.head.end

    def header(self, name: str) -> str | None:
        return self.head.header(name)


def window(raw: bytes, offset: int | None) -> bytes:
    """At most 2 KiB of ``raw`` around ``offset`` (all of it when it is that short)."""
    if len(raw) <= WINDOW or offset is None:
        return raw[:WINDOW]
    start = max(0, min(offset - WINDOW // 2, len(raw) - WINDOW))
    return raw[start:start + WINDOW]


def problem_failure(problem: Problem, raw: bytes, sent: Sent | None) -> Failure:
    return Failure(problem.message, expected=problem.expected,
                   received=window(raw, problem.offset), sent=sent,
                   offset=problem.offset, hint=problem.hint)


class Budget(Protocol):
    """What a Conn needs of its check (context.Context is one): when to give up,
    whether the run was stopped, and where to count the requests it sends."""

    deadline: float
    cancelled: threading.Event

    def remaining(self) -> float: ...

    def record(self, sent: Sent) -> None: ...


class Conn:
    """One connection of a check (made by ``Context.connect``)."""

    def __init__(self, sock: socket.socket, local_port: int, ctx: Budget) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # pieces stay pieces
        self.sock = sock
        self.local_port = local_port
        self.ctx = ctx
        self.requests = 0        # requests sent on it
        self.responses = 0       # responses read from it
        self.buffer = b""        # received, not yet part of a read response
        self.received = b""      # everything received on it
        self.eof = False
        self.reset = False
        # send_pieces: how many bytes of the request had been sent when the server
        # answered or closed before the rest of it was sent (None: it waited).
        self.interrupted_at: int | None = None
        self._started = time.monotonic()

    # --- sending -------------------------------------------------------------------

    def _next_sent(self) -> Sent:
        sent = Sent(self.local_port, self.requests)
        self.requests += 1
        self.ctx.record(sent)
        return sent

    def send(self, data: bytes) -> Sent:
        """Send one whole request."""
        sent = self._next_sent()
        self._sendall(data, 0, len(data), sent)
        return sent

    def send_more(self, data: bytes) -> None:
        """Send more of the request sent last (a slow client's next piece)."""
        self._sendall(data, 0, len(data), Sent(self.local_port, max(0, self.requests - 1)))

    def send_pieces(self, pieces: Sequence[bytes], gap_seconds: float) -> Sent:
        """Send one request in ``pieces``, ``gap_seconds`` apart. If the server answers
        or closes during a gap, the rest is not sent: ``interrupted_at`` says after how
        many bytes."""
        sent = self._next_sent()
        total = sum(len(p) for p in pieces)
        done = 0
        for number, piece in enumerate(pieces):
            if number and self.wait_readable(gap_seconds):
                self.interrupted_at = done
                return sent
            self._sendall(piece, done, total, sent)
            done += len(piece)
        return sent

    def _sendall(self, data: bytes, done: int, total: int, sent: Sent) -> None:
        self.sock.settimeout(max(0.1, self.ctx.remaining()))
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.reset = True
            self.interrupted_at = done
            raise CheckFailed(Failure(Message(SEND_FAILED, sent=done, total=total),
                                      sent=sent, side="request", offset=done,
                                      hint="one-recv")) from None
        except TimeoutError:
            self._raise_silent(sent)

    # --- receiving -----------------------------------------------------------------

    def wait_readable(self, seconds: float) -> bool:
        """True as soon as the server sent something or closed, within ``seconds``."""
        if self.buffer or self.eof:
            return True
        end = min(time.monotonic() + seconds, self.ctx.deadline)
        while True:
            self._check_cancel()
            left = end - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([self.sock], [], [], min(left, SLICE))
            if readable:
                return True

    def _fill(self) -> bool:
        """Receive once (waiting at most until the deadline, in slices). False when
        nothing more will come: the connection ended, or the deadline passed."""
        if self.eof:
            return False
        while True:
            self._check_cancel()
            left = self.ctx.deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(min(left, SLICE))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                self.reset = self.eof = True
                return False
            except OSError:
                self.eof = True
                return False
            if not chunk:
                self.eof = True
                return False
            self.buffer += chunk
            self.received += chunk
            return True

    def _check_cancel(self) -> None:
        if self.ctx.cancelled.is_set():
            raise Cancelled()

    def read_until_close(self, seconds: float) -> bytes:
        """Everything that arrives until the server closes, or ``seconds`` pass (or the
        deadline); the bytes are consumed."""
        end = time.monotonic() + seconds
        saved = self.ctx.deadline
        self.ctx.deadline = min(saved, end)
        try:
            while self._fill():
                pass
        finally:
            self.ctx.deadline = saved
        data, self.buffer = self.buffer, b""
        return data

    def read_head(self) -> tuple[Head, Sent]:
        """The next response's head, scanned (problems included, not raised), and the
        request it answers. Waits for its empty line, the end, or the deadline."""
        sent = Sent(self.local_port, self.responses)
        while head_length(self.buffer) is None and len(self.buffer) < MAX_HEAD:
            if not self._fill():
                break
        if not self.buffer:
            self._raise_empty(sent)
        return scan_head(self.buffer), sent

    def read_response(self, head_request: bool = False) -> Response:
        """The next response, whole, read as a browser reads it: CheckFailed at the
        first rule it breaks that a browser could not read past (a bare LF it reads
        past: stage 2 judges the head's every byte, the other stages their own point)."""
        head, sent = self.read_head()
        blocking = [problem for problem in head.problems if not problem.readable]
        if blocking:
            raise CheckFailed(problem_failure(blocking[0], self.buffer, sent))
        framing, length = self._framing(head, head_request, sent)
        if framing == "length":
            body_end = self._read_length(head.end, length, sent)
        elif framing == "chunked":
            body_end = self._read_chunked(head.end, sent)
        elif framing == "close":
            while self._fill():
                pass
            if not self.eof:
                raise CheckFailed(Failure(
                    Message(NEVER_CLOSED, seconds=self._seconds()), expected="",
                    received=window(self.buffer, len(self.buffer)), sent=sent,
                    offset=len(self.buffer), hint="never-closes"))
            body_end = len(self.buffer)
        else:
            body_end = head.end
        raw, self.buffer = self.buffer[:body_end], self.buffer[body_end:]
        self.responses += 1
        body = raw[head.end:] if framing != "chunked" else _dechunk(raw[head.end:])
        return Response(raw, head, body, framing, sent)

    def _framing(self, head: Head, head_request: bool, sent: Sent) -> tuple[str, int]:
        """How the body's end is known (RFC 9112 §6.3)."""
        if head_request or head.status < 200 or head.status in (204, 304):
            return "none", 0
        codings = ",".join(head.all("Transfer-Encoding")).lower()
        if codings:
            last = codings.split(",")[-1].strip()
            return ("chunked" if last == "chunked" else "close"), 0
        values = {v.strip() for value in head.all("Content-Length") for v in value.split(",")}
        if not values:
            return "close", 0
        if len(values) != 1 or not _digits(next(iter(values)), ASCII_DIGITS):
            at = head.header_offsets[[k.lower() for k, _ in head.headers].index(
                "content-length")]
            raise CheckFailed(Failure(Message(BAD_LENGTH, value=", ".join(sorted(values))),
                                      expected="Content-Length: 123\\r\\n",
                                      received=window(self.buffer, at), sent=sent,
                                      offset=at))
        return "length", int(next(iter(values)))

    def _read_length(self, start: int, length: int, sent: Sent) -> int:
        while len(self.buffer) - start < length:
            if not self._fill():
                got = len(self.buffer) - start
                template = SHORT_BODY if self.eof else SLOW_BODY
                raise CheckFailed(Failure(
                    Message(template, got=got, length=length, seconds=self._seconds()),
                    expected=f"{length} bytes of body", received=window(
                        self.buffer, len(self.buffer)), sent=sent, offset=len(self.buffer)))
        return start + length

    def _read_chunked(self, start: int, sent: Sent) -> int:
        """The end of a chunked body: chunk-size CRLF data CRLF ... 0 CRLF CRLF."""
        at = start
        while True:
            line_end = self._wait_for(b"\r\n", at, sent)
            size_text = self.buffer[at:line_end].split(b";")[0].strip(b" \t")
            if not _digits(size_text.decode("latin-1"), HEXDIGITS):
                raise self._chunk_error(at, sent)
            size = int(size_text, 16)
            at = line_end + 2
            if size == 0:  # trailers, then the empty line
                while True:
                    line_end = self._wait_for(b"\r\n", at, sent)
                    empty = line_end == at
                    at = line_end + 2
                    if empty:
                        return at
            while len(self.buffer) < at + size + 2:
                if not self._fill():
                    raise self._chunk_error(len(self.buffer), sent)
            if self.buffer[at + size:at + size + 2] != b"\r\n":
                raise self._chunk_error(at + size, sent)
            at += size + 2

    def _wait_for(self, marker: bytes, at: int, sent: Sent) -> int:
        while (found := self.buffer.find(marker, at)) < 0:
            if not self._fill():
                raise self._chunk_error(len(self.buffer), sent)
        return found

    def _chunk_error(self, offset: int, sent: Sent) -> CheckFailed:
        return CheckFailed(Failure(Message(BAD_CHUNK, offset=offset),
                                   expected="SIZE\\r\\nDATA\\r\\n ... 0\\r\\n\\r\\n",
                                   received=window(self.buffer, offset), sent=sent,
                                   offset=offset))

    def _seconds(self) -> float:
        return round(max(0.0, time.monotonic() - self._started), 1)

    def _raise_empty(self, sent: Sent) -> None:
        if self.reset:
            raise CheckFailed(Failure(Message(RESET), sent=sent, hint="one-recv"))
        if self.eof:
            raise CheckFailed(Failure(Message(CLOSED_EMPTY), expected="HTTP/1.1 200 OK\\r\\n",
                                      sent=sent, offset=0))
        self._raise_silent(sent)

    def _raise_silent(self, sent: Sent) -> None:
        raise CheckFailed(Failure(Message(SILENT, seconds=self._seconds()),
                                  expected="HTTP/1.1 200 OK\\r\\n", sent=sent))

    # --- the end -------------------------------------------------------------------

    def closed_cleanly(self) -> bool:
        """The server closed its side (FIN), without a reset."""
        return self.eof and not self.reset

    def was_reset(self) -> bool:
        return self.reset

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _digits(text: str, allowed: str) -> bool:
    """``text`` is one or more of ``allowed``. Not str.isdigit() nor int(): they take
    "²", a sign, "0x" and "_", which no HTTP number may hold (RFC 9110 §8.6,
    RFC 9112 §7.1)."""
    return bool(text) and all(c in allowed for c in text)


def _dechunk(data: bytes) -> bytes:
    out: list[bytes] = []
    at = 0
    while True:
        line_end = data.index(b"\r\n", at)
        size = int(data[at:line_end].split(b";")[0].strip(), 16)
        if size == 0:
            return b"".join(out)
        out.append(data[line_end + 2:line_end + 2 + size])
        at = line_end + 2 + size + 2
