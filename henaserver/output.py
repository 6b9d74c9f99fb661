"""The outgoing side of a connection: answers become bytes in one queue, written in order.

Pipelined requests are answered in order because every answer leaves through one queue.
Each entry is bytes to send and, for a large file, a region of it to ``sendfile`` after
them. ``write`` sends as much as the socket takes without blocking and says which
exchanges have had their last byte written; the connection calls it again when the
socket is writable. ``size`` is the backlog, for backpressure (``Limits.output_high_water``).

What is sent is also what is recorded: each entry's bytes are kept in its exchange's
record for the capture, bodies cut at the capture cap.

A paced response (``paced.py``) is one entry per piece, each with the time it is due:
``write`` stops at an entry not yet due (``paused_until`` says till when), and tells
``on_progress`` of each piece written but the last, for its ``exchange.progress`` event.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from .exchange import ExchangeRecord
from .http import find_head_end
from .response import Piece, Response, response_head, status_has_body

SERVER_NAME: Final = "henaserver/0.1"
CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class FileChanged(Exception):
    """A file being sent shrank: the Content-Length already sent is now wrong."""


@dataclass(slots=True)
class Outgoing:
    """Bytes to write, then optionally a file region to sendfile, for one exchange."""

    data: memoryview
    record: ExchangeRecord
    ends_exchange: bool  # false for an interim 100 Continue
    file: BinaryIO | None = None
    offset: int = 0
    remaining: int = 0
    wait: float = 0.0  # a paced piece: seconds after the previous entry is written
    due: float = 0.0  # when it may be sent (time.time()); 0: at once, or wait from now
    kept: bytes | None = None  # a paced piece: its recorded bytes (None: not paced)

    def discard(self) -> None:
        """Give back the file of a response that will not be (fully) sent."""
        if self.file is not None:
            self.file.close()


class OutputQueue:
    """The answers of one connection waiting to be written, oldest first."""

    def __init__(self, sock: socket.socket, *, capture_cap: int | None,
                 on_sent: Callable[[int, float], None],
                 on_progress: Callable[[ExchangeRecord, int, bytes], None]) -> None:
        self.sock = sock
        self.capture_cap = capture_cap  # None: capture is off, nothing is recorded
        self.on_sent = on_sent  # told each byte count written, and when
        # Told each paced piece written but the last: where it began, its recorded bytes.
        self.on_progress = on_progress
        self.paused_until = 0.0  # the first entry waits till then (a paced piece)
        self.waited = 0.0  # when the last paced wait ends or ended
        self.size = 0  # bytes waiting
        self._items: deque[Outgoing] = deque()

    def __bool__(self) -> bool:
        return bool(self._items)

    # --- adding answers ---------------------------------------------------------------

    def add_continue(self, record: ExchangeRecord) -> None:
        """The interim 100 Continue (RFC 9110 section 15.2.1): it does not end the
        exchange."""
        self._add(Outgoing(memoryview(CONTINUE), record, False), CONTINUE)

    def add_raw(self, response: Response, record: ExchangeRecord) -> None:
        """The user's bytes exactly as written, at once or paced; nothing is added."""
        if response.pieces is not None:
            self.add_paced(response.pieces, response.status, record, time.time())
            return
        assert response.raw is not None
        data = response.raw
        record.status = response.status or None
        _, body_start = find_head_end(data)
        head_length = len(data) if body_start == -1 else body_start
        cap = head_length + (self.capture_cap or 0)
        record.response_truncated = len(data) > cap
        self._add(Outgoing(memoryview(data), record, True), data[:cap])

    def add_paced(self, pieces: tuple[Piece, ...], status: int, record: ExchangeRecord,
                  now: float) -> None:
        """A paced response: each piece waits its time, then goes out as it is."""
        record.status = status or None
        _, body_start = find_head_end(pieces[0].data)
        head_length = len(pieces[0].data) if body_start == -1 else body_start
        cap = head_length + (self.capture_cap or 0)  # the head, then the body cap
        recorded = 0
        for number, piece in enumerate(pieces):
            kept = piece.data[:max(0, cap - recorded)]
            recorded += len(piece.data)
            last = number == len(pieces) - 1
            self._add(Outgoing(memoryview(piece.data), record, last, wait=piece.wait,
                               due=now + piece.wait if number == 0 else 0.0, kept=kept),
                      kept)
        record.response_truncated = recorded > cap
        self.on_progress(record, 0, b"")  # announced at once: the page shows it waiting

    def add_built(self, response: Response, record: ExchangeRecord, *, method: str,
                  version: str, closing: bool, date: str) -> None:
        """A handler's response, with the fields every response of this server carries."""
        headers = [("Date", date), ("Server", SERVER_NAME), *response.headers]
        if closing:
            headers.append(("Connection", "close"))
        elif version == "HTTP/1.0":
            headers.append(("Connection", "keep-alive"))
        head = response_head(response.status, headers)
        record.status = response.status
        file = response.file
        if not status_has_body(response.status, method):
            body = b""
            if file is not None:
                file.close()
                file = None
        else:
            body = response.body
        payload = head + body  # one send for head and body: no Nagle stall
        cap = self.capture_cap
        captured = b""
        if cap is not None:
            if file is not None:
                captured = head + os.pread(file.fileno(), cap, response.file_offset)
                record.response_truncated = response.file_length > cap
            elif len(body) > cap:
                captured = head + body[:cap]
                record.response_truncated = True
            else:
                captured = payload  # the usual case: record what is sent, no copy
        self._add(Outgoing(memoryview(payload), record, True, file, response.file_offset,
                           response.file_length if file is not None else 0), captured)

    def _add(self, item: Outgoing, captured: bytes) -> None:
        if self.capture_cap is not None:
            item.record.response.append(captured)
        self._items.append(item)
        self.size += len(item.data) + item.remaining

    # --- writing ----------------------------------------------------------------------

    def write(self) -> Iterator[ExchangeRecord]:
        """Write until the socket would block or the queue is empty, yielding each
        exchange as its last byte leaves. Peer errors (reset, broken pipe) propagate, as
        does ``FileChanged``."""
        while self._items:
            item = self._items[0]
            if item.wait:
                now = time.time()
                item.due = item.due or now + item.wait  # its wait starts now
                self.waited = item.due  # the client is not slow while it waits
                if item.due > now:
                    self.paused_until = item.due
                    return
                self.paused_until = 0.0
            try:
                self._send_some(item)
            except BlockingIOError:
                return
            if item.data or item.remaining:
                continue
            self._items.popleft()
            if item.file is not None:
                item.file.close()
            if item.ends_exchange:
                yield item.record
            elif item.kept is not None:
                size = len(item.data.obj)  # type: ignore[arg-type]  # the whole piece
                self.on_progress(item.record, item.record.response_length - size, item.kept)

    def _send_some(self, item: Outgoing) -> None:
        if item.data:
            sent = self.sock.send(item.data)
            item.data = item.data[sent:]
        else:
            assert item.file is not None
            sent = os.sendfile(self.sock.fileno(), item.file.fileno(), item.offset,
                               item.remaining)
            if sent == 0:
                raise FileChanged
            item.offset += sent
            item.remaining -= sent
        now = time.time()
        self.size -= sent
        self.on_sent(sent, now)
        record = item.record
        record.response_length += sent
        if record.response_start is None:
            record.response_start = now

    def clear(self) -> None:
        """Drop everything queued (the connection is closing), and forget the connection's
        callbacks: they hold the connection, which holds this queue, and without the cycle
        a closed connection is freed at once, not by a later pass of the cycle collector."""
        for _ in self.abandon():
            pass
        self.on_sent = lambda count, now: None
        self.on_progress = lambda record, offset, data: None

    def abandon(self) -> Iterator[ExchangeRecord]:
        """Empty the queue, yielding each exchange that will now never be answered."""
        while self._items:
            item = self._items.popleft()
            item.discard()
            if item.ends_exchange:
                yield item.record
        self.size = 0
        self.paused_until = 0.0
