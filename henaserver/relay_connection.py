"""One browser connection through the relay, and the one server connection opened for it.

Bytes go both ways unchanged and in order; on the way they are also read, with the
sans-IO ``RequestParser`` (``parser.py``) on the browser's side and ``ResponseReader``
(``responses.py``) on the server's, to cut the stream into exchanges and to name what
the server did wrong. Reading never changes forwarding: a request the parser refuses is
still forwarded, and from then on that direction's bytes are kept as raw ``stream``
records instead of exchanges (nothing can say where the next request starts).

Each direction has one outgoing buffer, bounded by bytes (``MAX_BUFFER``); when it is
full the side that fills it is not read (back-pressure): a fast sender waits in its
own socket buffers.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from typing import Final, Protocol

from . import responses as named  # the mistakes: named.BODY_TOO_LONG ...
from .capture import ConnectionClose, Exchange, Stats
from .connection import PEER_GONE, RECV_SIZE  # as henaserver reads and names resets
from .exchange import capped_request
from .http import HTTPError, RefusedRequest, Request, RequestHead
from .parser import NEED_DATA, RequestParser
from .relay_events import RECORDING, ExchangeWaiting, RelayLimits, Stream
from .relay_exchange import Waiting, exchange_of, relay_error
from .responses import Response, ResponseReader

# Bytes waiting to be written to one side before the relay stops reading the other.
MAX_BUFFER: Final = 256 * 1024
# Whole requests forwarded and not yet answered before the relay stops reading the
# browser: each is recorded (its head whole, its body cut at the body cap) until its
# answer comes, so a browser pipelining to a server that never answers would else grow
# the relay without bound. Browsers do not pipeline; a few is plenty.
MAX_WAITING: Final = 32
# How long a finished response waits for more bytes from the server before its event is
# sent: bytes past its end within this time are named ``body_too_long``.
GRACE_SECONDS: Final = 0.1


class RelayHost(Protocol):
    """What a relayed connection needs from the relay that drives it."""

    stats: Stats
    body_cap: int
    limits: RelayLimits

    def watch(self, pair: RelayedConnection) -> None:
        """Wait for the readiness ``wants(pair)`` says, on both its sockets."""
    def exchange_done(self, exchange: Exchange) -> None:
        """Record an exchange that has ended."""
    def stream(self, record: Stream | ExchangeWaiting) -> None:
        """Record bytes that belong to no exchange, or a request still unanswered."""
    def closed(self, pair: RelayedConnection, event: ConnectionClose) -> None:
        """Forget a closed pair and record why."""
    def linger(self, sock: socket.socket) -> None:
        """Close the browser's socket once it has stopped sending (a lingering close)."""


class RelayedConnection:
    def __init__(self, host: RelayHost, client: socket.socket, upstream: socket.socket,
                 conn_id: int, peer: str, now: float) -> None:
        self.host, self.client, self.upstream = host, client, upstream
        self.id, self.peer, self.accepted = conn_id, peer, now
        self.to_upstream = bytearray()
        self.to_client = bytearray()
        self.parser = RequestParser(RECORDING, keep_body=host.body_cap)
        self.reader = ResponseReader(cap=host.body_cap)
        self.raw_requests = False  # the parser gave up: the browser's bytes are a stream
        self.raw_responses = False  # the reader gave up: the server's bytes are a stream
        self.connected = False
        self.refused = False
        # Why there is no server connection: the reason, the mistake, the 502's text.
        self.refusal = ("connection to the server refused", named.NOT_LISTENING,
                        "Nothing is listening at the server's address: is it running?")
        self.client_eof = self.upstream_eof = False
        self.browser_eof = False  # the browser's end of stream was read (not just unread)
        self.server_reset = False  # sending to the server failed: it is not sent to again
        self.waiting: deque[Waiting] = deque()
        self.held: tuple[Waiting, Exchange, float] | None = None  # see GRACE_SECONDS
        self.next_index = 0
        self.first_byte: float | None = None
        self.head_time: float | None = None
        self.last_upstream = self.last_client = now
        self.last_sent = now  # when bytes last went to the browser (relay_bounds.check)
        self.bytes_in = self.bytes_out = 0
        self.closed = False
        self.closing: str | None = None  # the reason to close once the browser has all

    # --- readiness ----------------------------------------------------------------------

    def on_upstream_connected(self) -> None:
        error = self.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self.refused = True  # nothing listens there: the relay answers 502 itself
            self._answer_refused()
        else:
            self.connected = True
        self.host.watch(self)

    def on_client_readable(self) -> None:
        data = self._recv(self.client)
        now = time.time()
        if data is None:
            return
        if not data:
            self.client_eof = self.browser_eof = True
            self._client_closed(now)
        else:
            self.bytes_in += len(data)
            self.host.stats.bytes_in += len(data)
            self.last_client = now
            self.to_upstream += data
            self._read_requests(data, now)
            if self.refused:  # after every request in data is read: one answer for all
                self._answer_refused()
        self._flush()

    def on_upstream_readable(self) -> None:
        data = self._recv(self.upstream)
        now = time.time()
        if data is None:
            return
        self.last_upstream = now
        if not data:
            self.upstream_eof = True
            self.reader.close()
        else:
            self.to_client += data
        self._read_responses(data, now)
        self._flush()

    def on_writable(self) -> None:
        self._flush()

    # --- the browser's side: requests ---------------------------------------------------

    def _read_requests(self, data: bytes, now: float) -> None:
        if self.raw_requests:
            self._stream("to_server", "after a request that is not HTTP", data)
            return
        if self.first_byte is None:
            self.first_byte = now
        self.parser.feed(data)
        while True:
            try:
                event = self.parser.next_event()
            except RefusedRequest:
                self.parser.read_refused_request()  # its framing is known: read on
                continue
            except HTTPError as error:
                # Still an exchange: the server's next answer is its answer. What the
                # browser sends after it is a stream (no one can say where it starts).
                self.raw_requests = True
                self.waiting.append(Waiting(self.next_index, None, self.parser.received,
                                            self.first_byte, self.head_time, now,
                                            reason=f"not a request henaserver can read: "
                                                   f"{error.reason}", unreadable=True,
                                            length=self.parser.received_length))
                self.next_index += 1
                return
            if event is NEED_DATA:
                return
            if isinstance(event, RequestHead):
                self.head_time = now
            elif isinstance(event, Request):
                raw, length = event.raw, self.parser.last_length
                if length > len(raw):  # its body was cut at the cap (keep_body)
                    event = Request(event.head, b"", b"")
                self.waiting.append(Waiting(self.next_index, event, raw, self.first_byte,
                                            self.head_time, now, length=length))
                self.next_index += 1
                self.first_byte = now if self.parser.has_partial_request else None
                self.head_time = None

    def _client_closed(self, now: float) -> None:
        owed = self.waiting or self.raw_requests
        if self.parser.has_partial_request and not self.raw_requests:
            self._client_closed_partial(now, "client_closed", "the client closed "
                                        "mid-request")
        # Nothing to wait for: close. But bytes that are not HTTP may be owed an answer
        # (netcat half-closes after them): the server's close or the idle timeout ends it.
        if self.refused or not owed:
            # A half-close: the browser may still read what the relay holds for it.
            self._close_after_flush(self.closing or "client closed")

    def _client_closed_partial(self, now: float, outcome: str, reason: str) -> None:
        """Record the request the browser had begun, as far as it came. It is
        recorded once: any bytes the browser still sends are a stream."""
        self._emit(self.partial_request(), None, outcome, reason, b"", None, now)

    def partial_request(self) -> Waiting:
        """The request the browser has begun, as a record (the parser stops here: what
        the browser sends after it is kept as stream records)."""
        record = Waiting(self.next_index, None, self.parser.received, self.first_byte,
                         self.head_time, None, length=self.parser.received_length)
        self.next_index += 1
        self.raw_requests = True
        return record

    # --- the server's side: responses ---------------------------------------------------

    def _read_responses(self, data: bytes, now: float) -> None:
        if self.raw_responses:
            if data:
                self._stream("to_client", "after a response that is not HTTP", data)
            if self.upstream_eof:
                self._upstream_closed(now)
            return
        if data:
            self.reader.feed(data)
        if self.held is not None:
            if self.reader.buffered and not self.reader.starts_like_response():
                self.held[0].extra.append(self.reader.take_extra(stop_at_status=True))
            if not self.reader.buffered and not self.upstream_eof:
                return  # still within its grace: more may come
            self._release_held()
        if (not self.waiting and (self.reader.buffered or self.upstream_eof)
                and self.held is None and self.parser.has_partial_request
                and not self.raw_requests):
            # The server answers (or closes) before the request is whole (it read only
            # its head, a single recv): the answer to the request as far as it came.
            record = self.partial_request()
            record.reason = "the server answered before the request was whole"
            self.waiting.append(record)
        while self.waiting:
            current = self.waiting[0]
            if current.response_start is None and self.reader.started:
                current.response_start = now
            method = current.request.head.method if current.request else "GET"
            response = self.reader.next_response(method)
            if not isinstance(response, Response):
                break  # NEED_DATA
            self.waiting.popleft()
            if current.response_start is None:
                current.response_start = now
            # server_closed: it closed before its answer was whole (or began). An
            # answer with no status line has no end to miss: what came is the answer.
            whole = response.complete or response.mistake == named.NO_STATUS_LINE
            # A request the parser could not read, answered whole with an error, is
            # what henaserver calls rejected: the same request gives the same outcome
            # either way. Answered 2xx/3xx, the server took it: nobody rejected it.
            rejected = current.unreadable and (response.status or 0) >= 400
            outcome = ("rejected" if rejected else "complete") if whole \
                else "server_closed"
            event = self._event(current, response.status, outcome, current.reason,
                                response.raw,
                                response.mistake, now, response.length)
            if response.mistake == named.NO_STATUS_LINE:
                self.raw_responses = True  # the rest of the stream is kept raw
                self.host.exchange_done(event)
                continue
            self.held = (current, event, now + GRACE_SECONDS)
            if self.waiting and self.reader.buffered:
                if not self.reader.starts_like_response():
                    current.extra.append(self.reader.take_extra(stop_at_status=True))
                self._release_held()
        if not self.waiting and self.reader.buffered and self.held is None:
            self._stream("to_client", "bytes from the server with no request waiting",
                         self.reader.take_extra(stop_at_status=False))
        if self.upstream_eof:
            self._upstream_closed(now)

    def _upstream_closed(self, now: float) -> None:
        self._release_held()
        if not self.to_client:
            self._close("server closed")

    def _release_held(self) -> None:
        if self.held is None:
            return
        record, event, _ = self.held
        self.held = None
        if record.extra:
            extra = b"".join(record.extra)
            # Recorded after the body, unless the body was already cut at the cap.
            response = event.response if event.response_truncated else \
                capped_request(event.response + extra, self.host.body_cap)
            length = event.response_length + len(extra)
            event = event._replace(response=response, response_length=length,
                                   response_truncated=len(response) < length,
                                   mistake=named.BODY_TOO_LONG)
        self.host.exchange_done(event)

    def _answer_refused(self) -> None:
        """Nothing listens at the server's address: answer 502 to the first request
        (or the bytes that are not one), record it, and close."""
        if self.closing is not None or (not self.waiting and not self.raw_requests):
            return  # answered already, or wait for a request to answer
        now = time.time()
        current = self.waiting.popleft() if self.waiting else Waiting(
            self.next_index, None, self.parser.received, self.first_byte, None, now,
            length=self.parser.received_length)
        reason, mistake, text = self.refusal
        answer = relay_error(502, "Bad Gateway", f"{text} (henaserver relay)")
        self.to_client += answer  # the relay's own answer
        self._emit(current, 502, "rejected", reason, answer, mistake, now)
        # Requests pipelined behind it are recorded as the connection closes (_close).
        self._close_after_flush("server not listening")

    # --- events -------------------------------------------------------------------------

    def _event(self, record: Waiting, status: int | None, outcome: str, reason: str | None,
               response: bytes, mistake: str | None, now: float, length: int = -1
               ) -> Exchange:
        """``length``: all the response's bytes (-1: ``response`` holds them all)."""
        return exchange_of(record, conn=self.id, client=self.peer, accepted=self.accepted,
                           status=status, outcome=outcome, reason=reason, response=response,
                           response_length=len(response) if length < 0 else length,
                           mistake=mistake, now=now, body_cap=self.host.body_cap)

    def _emit(self, record: Waiting, status: int | None, outcome: str, reason: str | None,
              response: bytes, mistake: str | None, now: float, length: int = -1) -> None:
        if record.response_start is None and response:
            record.response_start = now
        self.host.exchange_done(self._event(record, status, outcome, reason, response,
                                            mistake, now, length))

    def _stream(self, direction: str, reason: str, data: bytes) -> None:
        if data:
            cap = self.host.body_cap
            self.host.stream(Stream(self.id, direction, reason, data[:cap], len(data),
                                    len(data) > cap))

    # --- sockets ------------------------------------------------------------------------

    def _recv(self, sock: socket.socket) -> bytes | None:
        try:
            return sock.recv(RECV_SIZE)
        except BlockingIOError:
            return None
        except PEER_GONE + (OSError,):
            return b""

    def _flush(self) -> None:
        """Write what each side can take; close when both directions are done."""
        if self.closed:
            return
        for sock, buffer, counts in ((self.client, self.to_client, True),
                                     (self.upstream, self.to_upstream, False)):
            if not buffer or (sock is self.upstream and not self.connected):
                continue
            try:
                sent = sock.send(buffer) if counts or not self.server_reset else len(buffer)
            except BlockingIOError:
                continue
            except (*PEER_GONE, OSError):
                if counts or self.upstream_eof:
                    self._close("client gone" if counts else "server gone")
                    return
                # The server reset (it closed before reading everything): what it sent
                # before is still read and delivered; what the browser sends goes nowhere.
                self.server_reset, sent = True, len(buffer)
            del buffer[:sent]
            if counts and sent:
                self.last_sent = time.time()
                self.bytes_out += sent
                self.host.stats.bytes_out += sent
        if self.client_eof and self.connected and not self.to_upstream:
            try:
                self.upstream.shutdown(socket.SHUT_WR)  # pass the browser's half-close on
            except OSError:
                pass
        if self.upstream_eof and not self.to_client and not self.waiting:
            self._close("server closed")
        elif self.closing and not self.to_client:
            self._close(self.closing)
        if not self.closed:
            self.host.watch(self)

    def _close_after_flush(self, reason: str) -> None:
        self.closing = reason
        self.client_eof = True  # read no more from the browser
        self._flush()

    def _close(self, reason: str) -> None:
        if self.closed:
            return
        self._release_held()
        outcome = "client_closed" if reason.startswith("client") else "no_response"
        if self.parser.has_partial_request and not self.raw_requests:
            self.waiting.append(self.partial_request())  # as far as it came
        for record in self.waiting:  # answers cut off, or that never came
            # The first may have part of its answer: what the server sent is kept.
            partial = self.reader.partial()
            self._emit(record, partial.status, outcome, reason, partial.raw, None,
                       time.time(), partial.length)
        self.waiting.clear()
        self.closed = True
        self.host.closed(self, ConnectionClose(self.id, self.next_index, reason,
                                               self.bytes_in, self.bytes_out))
        self.upstream.close()
        if self.browser_eof:
            self.client.close()
        else:  # it may still be sending: closing now would reset it, answer unread
            self.host.linger(self.client)
