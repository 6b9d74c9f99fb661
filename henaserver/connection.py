"""One client connection: read bytes, parse requests, queue responses, keep alive, time out.

The server's event loop calls ``on_readable``, ``on_writable`` and ``check_timeout``; a
connection never blocks. Bytes go to the sans-IO ``RequestParser``; each complete request
goes to the handler; each response is queued and written as far as the socket accepts,
the rest when the socket is writable again. Pipelined requests are answered in order
because responses leave through one queue.

While a request is in flight an ``ExchangeRecord`` collects its bytes and timestamps;
when the last response byte is written (or the exchange ends early) it becomes an
``Exchange`` event for the capture sink.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from .capture import ConnectionClose, Exchange, Times
from .http import KNOWN_METHODS, HTTPError, Request, RequestHead, find_head_end, peek_request_line
from .pages import SERVER_ERROR, error_response
from .parser import NEED_DATA, RequestParser
from .response import Response, response_head, status_has_body

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("henaserver")

SERVER_NAME = "henaserver/0.1"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
RECV_SIZE = 64 * 1024
# After answering an error the server half-closes and reads what the client still sends
# for this long, so the client gets the response instead of a reset (RFC 9112 9.6).
LINGER_SECONDS = 2.0
# Peer disconnects are routine on the web; they are not errors of the server.
PEER_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)


@dataclass
class ExchangeRecord:
    """What is known so far about one exchange."""

    index: int
    first_byte: float | None = None
    head_complete: float | None = None
    request_complete: float | None = None
    response_start: float | None = None
    head: RequestHead | None = None
    request_line: tuple[str, str, str] | None = None  # when the head did not parse
    request: bytes = b""
    status: int | None = None
    response: list[bytes] = field(default_factory=list)  # recorded chunks, joined once
    response_length: int = 0
    response_truncated: bool = False
    outcome: str = "complete"
    reason: str | None = None


@dataclass
class Outgoing:
    """Bytes to write, then optionally a file region to sendfile, for one exchange."""

    data: memoryview
    file: BinaryIO | None = None
    offset: int = 0
    remaining: int = 0
    record: ExchangeRecord | None = None
    ends_exchange: bool = False  # false for an interim 100 Continue


class Connection:
    def __init__(self, server: Server, sock: socket.socket, conn_id: int, client: str,
                 accepted: float) -> None:
        self.server = server
        self.sock = sock
        self.id = conn_id
        self.client = client
        self.accepted = accepted
        self.parser = RequestParser(server.limits)
        self.out: deque[Outgoing] = deque()
        self.out_bytes = 0
        self.current: ExchangeRecord | None = None
        self.exchanges = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.last_activity = accepted
        self.closing = False  # no more requests: close once the queue is written
        self.close_reason = "server closed"
        self.lingering_since: float | None = None
        self.closed = False
        self.paused = False  # requests wait in the parser until the output drains
        self.input_ended = False  # the client will send nothing more

    # --- events from the loop -------------------------------------------------------

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except PEER_GONE:
            self._peer_gone(time.time())
            return
        now = time.time()
        if not data:
            self._end_of_input(now)
            return
        self.bytes_in += len(data)
        self.server.stats.bytes_in += len(data)
        self.last_activity = now
        if self.lingering_since is not None:
            return  # discarding what arrives after our final response
        if self.current is None:
            self.current = ExchangeRecord(self.exchanges, first_byte=now)
        self.parser.feed(data)
        self._process(now)

    def on_writable(self) -> None:
        self._flush()
        if self.paused and not self.out and not self.closed:
            self._process(time.time())

    def check_timeout(self, now: float) -> None:
        """Called about twice a second: enforce the timeouts in ``Limits``."""
        limits = self.server.limits
        if self.lingering_since is not None:
            if now - self.lingering_since > LINGER_SECONDS:
                self.close(self.close_reason)
        elif self.out:
            if now - self.last_activity > limits.send_timeout:
                self._abandon("timed_out", "client did not read the response", now)
                self.close("send timeout")
        elif self.current is not None and self.current.first_byte is not None:
            started = self.current.head_complete or self.current.first_byte
            limit = limits.body_timeout if self.current.head_complete else limits.header_timeout
            if now - started > limit:
                part = "body" if self.current.head_complete else "headers"
                self.current.outcome = "timed_out"
                self._reject(HTTPError(408, f"the request {part} did not arrive within "
                                            f"{limit:g} seconds"), now)
        elif now - self.last_activity > limits.idle_timeout:
            self.close("idle timeout")

    def refuse_busy(self) -> None:
        """Answer 503 at once: the server is at its connection limit."""
        self.current = ExchangeRecord(0, first_byte=None)
        self._reject(HTTPError(503, "the server has too many open connections; try again",
                               headers=(("Retry-After", "1"),)), time.time())

    # --- requests -------------------------------------------------------------------

    def _process(self, now: float) -> None:
        """Answer every complete request in the buffer, pausing while too much output
        waits, and write what the socket accepts."""
        while True:
            self.paused = self._answer_requests(now)
            self._flush()
            # Resume at once if the pause ended because the socket took everything.
            if not (self.paused and not self.out and not self.closed):
                return

    def _answer_requests(self, now: float) -> bool:
        """Parse and answer requests; True if stopped because the output queue is full."""
        while not self.closing:
            if self.out_bytes >= self.server.limits.output_high_water:
                return True
            try:
                event = self.parser.next_event()
            except HTTPError as error:
                self._reject(error, now)
                return False
            if event is NEED_DATA:
                if self.input_ended:
                    self._input_finished(now)
                return False
            record = self.current or ExchangeRecord(self.exchanges, first_byte=now)
            self.current = record
            if isinstance(event, RequestHead):
                record.head_complete, record.head = now, event
                if event.expects_continue:
                    self._queue(Outgoing(memoryview(CONTINUE)), record, CONTINUE)
                continue
            assert isinstance(event, Request)
            record.request_complete = now
            record.head_complete = record.head_complete or now
            record.head, record.request = event.head, event.raw
            self.current = None
            self._respond(event, record)
            if not self.closing and self.parser.has_partial_request:
                self.current = ExchangeRecord(self.exchanges, first_byte=now)
        return False

    def _respond(self, request: Request, record: ExchangeRecord) -> None:
        head = request.head
        if not self.server.policy.answers:
            self._stay_silent(record)  # the handler is not even run
            return
        try:
            if head.method not in KNOWN_METHODS:
                raise HTTPError(501, f"the method {head.method} is not implemented",
                                close=False)
            response = self.server.handler(request)
        except HTTPError as error:
            response = error_response(error)
        except Exception:  # a bug in a handler must not take the server down
            log.exception("error while handling %s %s from %s", head.method, head.target,
                          self.client)
            response = error_response(SERVER_ERROR)
        if response.close or not head.keep_alive or self.server.policy.serves_one_request:
            self.closing = True
            self.close_reason = "Connection: close" if not head.keep_alive else "server closed"
        self._send_response(response, record, head.method, head.version)

    def _reject(self, error: HTTPError, now: float) -> None:
        """Answer a request the parser refused (or that timed out), then close."""
        record = self.current or ExchangeRecord(self.exchanges, first_byte=now)
        self.current = None
        record.head = self.parser.head
        record.request = self.parser.received
        if record.head is None:
            record.request_line = peek_request_line(record.request)
        if record.outcome == "complete":
            record.outcome = "rejected"
        record.reason = error.reason
        self.closing = True
        self.close_reason = "timeout" if record.outcome == "timed_out" else "bad request"
        # The method decides whether the error has a body (none for HEAD), so take it
        # from the request line even when the rest of the head did not parse.
        line = record.request_line
        method = record.head.method if record.head else line[0] if line else "GET"
        self._send_response(error_response(error), record, method, "HTTP/1.1")
        self._flush()

    def _send_response(self, response: Response, record: ExchangeRecord, method: str,
                       version: str) -> None:
        if not self.server.policy.answers:
            self._stay_silent(record)
        elif response.raw is not None:
            self._send_raw(response, record)
        else:
            self._send_built(response, record, method, version)

    def _stay_silent(self, record: ExchangeRecord) -> None:
        """Record-only mode: the request is recorded and nothing at all is answered."""
        self.closing = True
        self.close_reason = "record-only mode"
        self.exchanges += 1
        self._finish(record, "no_response", time.time(), "record-only mode: nothing is sent")

    def _send_raw(self, response: Response, record: ExchangeRecord) -> None:
        """Send the user's bytes exactly as written; nothing is added or changed."""
        assert response.raw is not None
        data = response.raw
        record.status = response.status or None
        _, body_start = find_head_end(data)
        head_length = len(data) if body_start == -1 else body_start
        cap = head_length + self.server.limits.capture_body_cap
        record.response_truncated = len(data) > cap
        self._queue(Outgoing(memoryview(data)), record, data[:cap], ends_exchange=True)

    def _send_built(self, response: Response, record: ExchangeRecord, method: str,
                    version: str) -> None:
        headers = [("Date", self.server.http_date()), ("Server", SERVER_NAME),
                   *response.headers]
        if self.closing:
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
        cap = self.server.limits.capture_body_cap
        captured = b""
        if self.server.capturing:
            if file is not None:
                captured = head + os.pread(file.fileno(), cap, response.file_offset)
                record.response_truncated = response.file_length > cap
            elif len(body) > cap:
                captured = head + body[:cap]
                record.response_truncated = True
            else:
                captured = payload  # the usual case: record what is sent, no copy
        item = Outgoing(memoryview(payload), file, response.file_offset,
                        response.file_length if file is not None else 0)
        self._queue(item, record, captured, ends_exchange=True)

    def _queue(self, item: Outgoing, record: ExchangeRecord, captured: bytes,
               ends_exchange: bool = False) -> None:
        if self.server.capturing:
            record.response.append(captured)
        item.record, item.ends_exchange = record, ends_exchange
        if ends_exchange:
            self.exchanges += 1
        self.out.append(item)
        self.out_bytes += len(item.data) + item.remaining

    # --- writing ----------------------------------------------------------------------

    def _flush(self) -> None:
        """Write queued responses until the socket would block or the queue is empty."""
        while self.out and not self.closed:
            item = self.out[0]
            try:
                sent = self._send_some(item)
            except BlockingIOError:
                break
            except PEER_GONE:
                self._peer_gone(time.time())
                return
            if sent is None:  # the file shrank under sendfile: framing is broken
                log.warning("file shrank while sending to %s; closing", self.client)
                self._abandon("client_closed", "file changed while being sent", time.time())
                self.close("error")
                return
            if item.data or item.remaining:
                continue
            self.out.popleft()
            if item.file is not None:
                item.file.close()
            if item.record is not None and item.ends_exchange:
                self._finish(item.record, "complete", time.time())
        self._after_flush()

    def _send_some(self, item: Outgoing) -> int | None:
        record = item.record
        if item.data:
            sent = self.sock.send(item.data)
            item.data = item.data[sent:]
        else:
            assert item.file is not None
            sent = os.sendfile(self.sock.fileno(), item.file.fileno(), item.offset,
                               item.remaining)
            if sent == 0:
                return None
            item.offset += sent
            item.remaining -= sent
        now = time.time()
        self.out_bytes -= sent
        self.bytes_out += sent
        self.server.stats.bytes_out += sent
        self.last_activity = now
        if record is not None:
            record.response_length += sent
            if record.response_start is None:
                record.response_start = now
        return sent

    def _after_flush(self) -> None:
        if self.closed:
            return
        if self.out:
            self.server.watch(self, read=False, write=True)
        elif self.closing:
            self._linger()
        else:
            self.server.watch(self, read=True, write=False)

    def _linger(self) -> None:
        """Half-close and drain: closing with unread input would send a TCP reset that
        can destroy the response before the client reads it (RFC 9112 section 9.6)."""
        if self.lingering_since is not None:
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(self.close_reason)
            return
        self.lingering_since = time.time()
        self.server.watch(self, read=True, write=False)

    # --- endings ----------------------------------------------------------------------

    def _end_of_input(self, now: float) -> None:
        """The client closed its sending side. It may still be reading (a half-close,
        as netcat does), so complete requests still buffered are answered and queued
        answers written; then the connection closes."""
        if self.lingering_since is not None:
            self.close(self.close_reason)
            return
        self.input_ended = True
        self.server.watch(self, read=False, write=bool(self.out))
        self._process(now)

    def _input_finished(self, now: float) -> None:
        """No more bytes will come: a request still incomplete never will be."""
        if self.current is not None and self.parser.has_partial_request:
            self.current.request = self.parser.received
            self._finish(self.current, "client_closed", now,
                         "client closed before the request was complete")
        self.current = None
        self.closing = True
        self.close_reason = "client closed"

    def _peer_gone(self, now: float) -> None:
        """The connection was reset or broke: nothing more can be sent."""
        if self.lingering_since is None:
            if self.current is not None and self.parser.has_partial_request:
                self.current.request = self.parser.received
                self._finish(self.current, "client_closed", now,
                             "connection reset before the request was complete")
                self.current = None
            self._abandon("client_closed", "connection reset before the response was sent",
                          now)
            self.close_reason = "connection reset"
        self.close(self.close_reason)

    def _abandon(self, outcome: str, reason: str, now: float) -> None:
        """End every exchange still waiting in the output queue."""
        while self.out:
            item = self.out.popleft()
            if item.file is not None:
                item.file.close()
            if item.record is not None and item.ends_exchange:
                self._finish(item.record, outcome, now, reason)
        self.out_bytes = 0

    def _finish(self, record: ExchangeRecord, outcome: str, now: float,
                reason: str | None = None) -> None:
        if record.outcome == "complete":
            record.outcome = outcome
        record.reason = record.reason or reason
        head = record.head
        method, target, version = ((head.method, head.target, head.version) if head
                                   else record.request_line or (None, None, None))
        self.server.exchange_done(Exchange(
            conn=self.id, index=record.index, client=self.client,
            method=method, target=target, version=version, status=record.status,
            outcome=record.outcome, reason=record.reason,
            request=self._capped_request(record.request), request_length=len(record.request),
            response=b"".join(record.response), response_length=record.response_length,
            response_truncated=record.response_truncated,
            times=Times(self.accepted, record.first_byte, record.head_complete,
                        record.request_complete, record.response_start,
                        now if record.response_start is not None else None)))

    def _capped_request(self, raw: bytes) -> bytes:
        """The whole head, and the body up to the capture cap (see docs/events.md)."""
        if not self.server.capturing:
            return b""
        if len(raw) <= self.server.limits.capture_body_cap:
            return raw  # too short for its body to exceed the cap
        _, body_start = find_head_end(raw)
        if body_start == -1:
            return raw
        return raw[:body_start + self.server.limits.capture_body_cap]

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        for item in self.out:
            if item.file is not None:
                item.file.close()
        self.out.clear()
        self.server.forget(self)
        try:
            self.sock.close()
        except OSError:
            pass
        self.server.connection_closed(ConnectionClose(
            self.id, self.exchanges, reason, self.bytes_in, self.bytes_out))
