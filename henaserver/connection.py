"""One client connection: a small state machine that reads requests and writes answers.

Bytes go to the sans-IO ``RequestParser``; each complete request goes to the handler;
each answer goes to the ``OutputQueue`` (``output.py``), written as far as the socket
accepts. An ``ExchangeRecord`` collects each exchange's bytes and times and becomes its
``Exchange`` event when it ends (``exchange.py``). A connection never blocks.

The interface with the server is small and written down: the server (``server.py``) calls
only ``on_readable``, ``on_writable``, ``check_timeout``, ``room_rank``, ``make_room``,
``refuse_busy`` and ``close``, and reads ``closed``, ``id``, ``client``, ``sock``, ``exchanges``
and ``current``; it needs from its server only what ``Host`` lists (states: ``states.py``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from typing import Final, Protocol

from .capture import ConnectionClose, Exchange, Stats
from .exchange import ExchangeRecord, exchange_event
from .http import HTTPError, RefusedRequest, Request, RequestHead, peek_request_line
from .limits import Limits
from .modes import ModePolicy
from .output import FileChanged, OutputQueue
from .pace import RecentRate, room_rank, too_slow
from .paced import ExchangeProgress, progress_event
from .pages import error_response, respond
from .parser import NEED_DATA, RequestParser
from .persistence import close_reason
from .response import Handler
from .states import READING, TRANSITIONS, State

log = logging.getLogger("henaserver")

RECV_SIZE: Final = 64 * 1024
# After answering an error the server half-closes and reads what the client still sends
# for this long, so the client gets the response instead of a reset (RFC 9112 9.6).
LINGER_SECONDS: Final = 2.0
# Peer disconnects are routine on the web; they are not errors of the server.
PEER_GONE: Final = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
                    TimeoutError)


class Host(Protocol):
    """What a connection needs from the server that drives it (``Server`` is one)."""

    handler: Handler
    limits: Limits
    policy: ModePolicy
    capturing: bool  # whether traffic events are recorded at all
    stats: Stats  # the server's totals; a connection adds the bytes it moves

    def http_date(self) -> str:
        """The Date field value for a response sent now."""
    def watch(self, connection: Connection, *, read: bool, write: bool,
              paused_until: float = 0.0) -> None:
        """Wait for exactly this readiness (or, paused, till then: ``on_writable``)."""
    def exchange_done(self, exchange: Exchange) -> None:
        """An exchange has ended: record it."""
    def exchange_progress(self, event: ExchangeProgress) -> None:
        """A paced response's piece has been written: record it."""
    def connection_closed(self, connection: Connection, event: ConnectionClose) -> None:
        """The connection is closing: stop watching its socket and record why."""
    def turn(self, connection: Connection, *, waiting: bool) -> None:
        """It waits on its client now (to the back of its line to make room), or not."""


class Connection:
    """One client connection, in exactly one ``State`` at a time: the moves between
    states, and why each happens, are the table in ``State`` (``states.py``).

    Backpressure is not a state but a fact about the output queue: while
    ``output_high_water`` bytes wait, requests stay in the parser until it empties.
    """

    def __init__(self, host: Host, sock: socket.socket, conn_id: int, client: str,
                 accepted: float) -> None:
        self.host = host
        self.sock = sock
        self.id = conn_id
        self.client = client
        self.accepted = accepted
        self.state = State.OPEN
        self.close_reason = "server closed"  # given by the move to CLOSING
        self.parser = RequestParser(host.limits)
        self.output = OutputQueue(
            sock, on_sent=self._sent, on_progress=self._progress,
            capture_cap=host.limits.capture_body_cap if host.capturing else None)
        self.current: ExchangeRecord | None = None  # the request being received
        self.exchanges = 0
        self.bytes_in = self.bytes_out = 0
        self.last_activity = accepted
        # The arriving request's pace (pace.py); the turn as _take_turn last told it.
        self._rate = RecentRate(accepted, 0)
        self.waiting, self._turn_exchanges = True, 0
        self._lingering_since = 0.0

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    def _move(self, state: State) -> None:
        if state not in TRANSITIONS[self.state]:
            raise RuntimeError(f"connection {self.id}: no move from {self.state.value} "
                               f"to {state.value}")
        self.state = state

    # --- called by the server -------------------------------------------------------

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
        self.host.stats.bytes_in += len(data)
        self.last_activity = now
        if self.state is State.LINGERING:
            return  # discarding what arrives after our final response
        if self.current is None:
            self._begin_request(self.bytes_in - len(data), now)
            if self.waiting:  # requests in progress are lined up by their first byte
                self.host.turn(self, waiting=True)
        self.parser.feed(data)
        self._process(now)

    def on_writable(self) -> None:
        self._flush()
        if not self.output and self.state in READING:
            self._process(time.time())  # requests held back by backpressure

    def check_timeout(self, now: float) -> None:
        """Called about twice a second: enforce the timeouts in ``Limits``."""
        limits = self.host.limits
        current = self.current
        if self.state is State.CLOSED:
            return
        if self.state is State.LINGERING:
            if now - self._lingering_since > LINGER_SECONDS:
                self.close(self.close_reason)
        elif self.output:  # a paced piece's wait is not the client's slowness
            if now - max(self.last_activity, self.output.waited) > limits.send_timeout:
                self._abandon("timed_out", "client did not read the response", now)
                self.close("send timeout")
        elif current is not None and current.first_byte is not None \
                and self.state in READING:
            self._rate.slide(self.bytes_in, now, limits.rate_grace)
            why = too_slow(current, self.bytes_in, self._rate, now, limits)
            if why is not None:
                current.outcome = "timed_out"
                self._reject(HTTPError(408, why), now)
        elif now - self.last_activity > limits.idle_timeout:
            self.close("idle timeout")

    def room_rank(self, now: float) -> int | None:
        """Its rank when the server is full: 0 before 1, None never closed (pace.py)."""
        return room_rank(busy=not self.waiting, answered_before=self.exchanges > 0,
                         request=self.current, received=self.bytes_in,
                         rate=self._rate, now=now, limits=self.host.limits)

    def make_room(self, now: float) -> None:
        """Close it so a new connection can have its slot (pace.py says who)."""
        self._drop_partial("timed_out", "closed to make room for a new connection", now)
        self.close("closed to make room")

    def refuse_busy(self) -> None:
        """Answer 503 at once: the server is at its connection limit."""
        self.current = ExchangeRecord(0)
        self._reject(HTTPError(503, "the server has too many open connections; try again",
                               headers=(("Retry-After", "1"),)), time.time())

    def close(self, reason: str) -> None:
        if self.state is State.CLOSED:
            return
        self._move(State.CLOSED)
        self.output.clear()
        self.host.connection_closed(self, ConnectionClose(
            self.id, self.exchanges, reason, self.bytes_in, self.bytes_out))
        with contextlib.suppress(OSError):
            self.sock.close()

    # --- requests -------------------------------------------------------------------

    def _process(self, now: float) -> None:
        """Answer every complete request in the buffer, and write what the socket
        accepts; if the queue filled and the socket then took it all, go on at once."""
        while True:
            held_back = self._answer_requests(now)
            self._flush()
            if not (held_back and not self.output and self.state in READING):
                return

    def _answer_requests(self, now: float) -> bool:
        """Parse and answer requests; True if stopped because the output queue is full."""
        while self.state in READING:
            if self.output.size >= self.host.limits.output_high_water:
                return True
            record = self.current
            try:
                event = self.parser.next_event()
            except RefusedRequest as refusal:
                # Its framing is known: read it to its end, answer the refusal, and go on
                # with the next request (RFC 9110 section 10.1.1).
                record = self.current = record or ExchangeRecord(self.exchanges, now)
                record.head_complete, record.head, record.refusal = now, refusal.head, refusal
                self.parser.read_refused_request()
                continue
            except HTTPError as error:
                self._reject(error, now)
                return False
            if event is NEED_DATA:
                if self.state is State.INPUT_ENDED:
                    self._input_finished(now)
                return False
            record = self.current = record or ExchangeRecord(self.exchanges, now)
            if isinstance(event, RequestHead):
                record.head_complete, record.head = now, event
                if event.expects_continue:
                    self.output.add_continue(record)
                continue
            assert isinstance(event, Request)
            record.request_complete = now
            record.head_complete = record.head_complete or now
            record.head, record.request = event.head, event.raw
            self.current = None
            if record.refusal is not None:
                record.reject(record.refusal)
            self._answer(record, event, now)
            if self.state in READING and self.parser.has_partial_request:
                self._begin_request(self.bytes_in, now)
        return False

    def _begin_request(self, mark: int, now: float) -> None:
        """A request's first byte is here (``mark``: bytes_in before it)."""
        self.current = ExchangeRecord(self.exchanges, now)
        self._rate = RecentRate(now, mark)

    def _reject(self, error: HTTPError, now: float) -> None:
        """Answer a request the parser refused or that timed out; then close."""
        record = self.current or ExchangeRecord(self.exchanges, now)
        self.current = None
        record.head, record.request = self.parser.head, self.parser.received
        if record.head is None:
            record.request_line = peek_request_line(record.request)
        record.reject(error)
        self._answer(record, error, now)
        self._flush()

    def _answer(self, record: ExchangeRecord, to: Request | HTTPError, now: float) -> None:
        """Answer one exchange: a complete request, or the error that ended it before its
        request was read. The one place that decides whether the connection persists."""
        policy = self.host.policy
        request = to if isinstance(to, Request) else None
        response = None
        if not policy.answers:
            pass  # record-only: the handler is not even run
        elif request is not None:
            response = respond(self.host.handler, request, record.refusal, self.client)
        else:
            assert isinstance(to, HTTPError)
            response = error_response(to)
        reason = close_reason(
            request_read=request is not None, timed_out=record.outcome == "timed_out",
            client_keeps=request is not None and request.head.keep_alive,
            response_closes=response is not None and response.close, policy=policy)
        if reason is not None:
            self.close_reason = reason
            self._move(State.CLOSING)
        self.exchanges += 1
        if response is None:
            self._finish(record, "no_response", now, "record-only mode: nothing is sent")
        elif response.raw is not None or response.pieces is not None:
            self.output.add_raw(response, record)  # as written, at once or paced
        else:
            # No body for HEAD: the method even from a head that did not parse.
            line = record.request_line
            method = record.head.method if record.head else line[0] if line else "GET"
            self.output.add_built(
                response, record, method=method, closing=self.state is State.CLOSING,
                version=request.head.version if request is not None else "HTTP/1.1",
                date=self.host.http_date())

    # --- writing ----------------------------------------------------------------------

    def _flush(self) -> None:
        """Write queued answers until the socket would block or the queue is empty."""
        try:
            for record in self.output.write():
                self._finish(record, "complete", time.time())
        except PEER_GONE:
            self._peer_gone(time.time())
            return
        except FileChanged:  # the Content-Length sent no longer holds
            log.warning("file shrank while sending to %s; closing", self.client)
            self._abandon("client_closed", "file changed while being sent", time.time())
            self.close("error")
            return
        self._after_flush()

    def _sent(self, count: int, now: float) -> None:
        self.bytes_out += count
        self.host.stats.bytes_out += count
        self.last_activity = now

    def _progress(self, record: ExchangeRecord, offset: int, data: bytes) -> None:
        self.host.exchange_progress(progress_event(record, self.id, offset, data))

    def _after_flush(self) -> None:
        if self.state is State.CLOSED:
            return
        if self.output:
            self.host.watch(self, read=False, write=True, paused_until=self.output.paused_until)
        elif self.state is State.CLOSING:
            self._linger()
        else:
            self.host.watch(self, read=True, write=False)
        self._take_turn()

    def _take_turn(self) -> None:
        """Tell the server whose turn it is when that changes: the client's (nothing queued,
        still reading; again after each answer), or the server's (an answer queued, or
        closing). Only those waiting on their clients may make room."""
        waiting = self.state is State.OPEN and not self.output
        if waiting != self.waiting or (waiting and self._turn_exchanges != self.exchanges):
            self.waiting, self._turn_exchanges = waiting, self.exchanges
            self.host.turn(self, waiting=waiting)
            if waiting and self.current is not None and self.current.head_complete is None:
                self._begin_request(self.bytes_in, time.time())  # timed from now on

    def _linger(self) -> None:
        """Half-close and drain: closing with unread input would send a TCP reset that
        can destroy the response before the client reads it (RFC 9112 section 9.6)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(self.close_reason)
            return
        self._move(State.LINGERING)
        self._lingering_since = time.time()
        self.host.watch(self, read=True, write=False)

    # --- endings ----------------------------------------------------------------------

    def _end_of_input(self, now: float) -> None:
        """The client closed its sending side. It may still read (a half-close, as netcat
        does): buffered requests are answered, answers written; then it closes."""
        if self.state is State.LINGERING:
            self.close(self.close_reason)
            return
        if self.state is State.OPEN:
            self._move(State.INPUT_ENDED)
        self.host.watch(self, read=False, write=bool(self.output))
        self._process(now)

    def _input_finished(self, now: float) -> None:
        """No more bytes will come: a request still incomplete never will be."""
        self._drop_partial("client_closed", "client closed mid-request", now)
        self.close_reason = "client closed"
        self._move(State.CLOSING)

    def _peer_gone(self, now: float) -> None:
        """The connection was reset or broke: nothing more can be sent."""
        if self.state is not State.LINGERING:
            self._drop_partial("client_closed", "connection reset mid-request", now)
            self._abandon("client_closed", "connection reset before the response was sent", now)
            self.close_reason = "connection reset"
        self.close(self.close_reason)

    def _drop_partial(self, outcome: str, reason: str, now: float) -> None:
        """End the exchange of a request that will never be complete."""
        if self.current is not None and self.parser.has_partial_request:
            self.current.request = self.parser.received
            self._finish(self.current, outcome, now, reason)
        self.current = None

    def _abandon(self, outcome: str, reason: str, now: float) -> None:
        """End every exchange still waiting in the output queue."""
        for record in self.output.abandon():
            self._finish(record, outcome, now, reason)

    def _finish(self, record: ExchangeRecord, outcome: str, now: float,
                reason: str | None = None) -> None:
        if record.outcome == "complete":
            record.outcome = outcome
        record.reason = record.reason or reason
        self.host.exchange_done(exchange_event(
            record, conn=self.id, client=self.client, accepted=self.accepted, now=now,
            body_cap=self.output.capture_cap))
