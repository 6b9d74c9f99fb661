"""Listen, accept, and drive every connection from one thread with a selector loop.

Why one thread and a selector (epoll on Linux) rather than a thread per connection or a
pool: CPython runs one thread's Python code at a time (the GIL), so extra threads add
switching and lock contention but no speed; a keep-alive connection that is only waiting
costs a socket and one small object here instead of a parked thread with its own stack,
so 1,000 open connections are cheap; and there are no locks to reason about. The price
is that nothing in the loop may block: small files are read from memory or the page
cache, large ones go out with ``os.sendfile`` on a non-blocking socket, a piece at a
time, and traffic events are handed to a writer thread (see ``capture.py``).

The loop also enforces the timeouts and publishes ``server.stats`` once a second. New
connections come through ``Admission`` (``admission.py``: accepting, and running out of
file descriptors). When every slot is taken (``max_connections``), a newcomer makes room:
the connection ``pace.py`` ranks first is closed, and only if none may be is the
newcomer refused with a 503. To find that one without looking through them all, the
server keeps the connections waiting on their clients in two lines (``unanswered`` and
``idle``), each in the order they began to wait.

A ``Server`` meets its connections through a small interface (see ``connection.py``): it
calls their ``on_readable``, ``on_writable``, ``check_timeout``, ``room_rank``,
``make_room``, ``refuse_busy`` and ``close``, and is their ``Host``: ``handler``,
``limits``, ``policy``, ``capturing``, ``stats``, ``http_date``, ``watch``,
``exchange_done``, ``exchange_progress``, ``connection_closed`` and ``turn``. A connection
whose paced response waits (``paced.py``) is woken by its alarm (``Alarms``), and the
loop sleeps no longer than the soonest one.

It stops for one of the reasons in ``StopReason`` (a closed set, documented with the
``server.stopping`` event in docs/events.md, so a supervisor can compare them).
"""

from __future__ import annotations

import logging
import os
import resource
import selectors
import socket
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Final, Literal, TextIO, get_args

from .admission import Admission
from .capture import (
    ConnectionClose,
    ConnectionOpen,
    EventSink,
    Exchange,
    ServerListening,
    ServerStats,
    ServerStopping,
    Stats,
)
from .connection import Connection
from .limits import Limits
from .modes import FULL, ModePolicy
from .paced import Alarms, ExchangeProgress
from .response import Handler

log = logging.getLogger("henaserver")

# Why a server stopped: its server.stopping event says exactly one of these.
StopReason = Literal["SIGINT", "SIGTERM", "stdin closed", "one request served"]
STOP_REASONS: Final = get_args(StopReason)
# How often timeouts are checked and stats published. Timeouts are whole seconds, so a
# half-second sweep over all connections is precise enough and cheap even at 1,000.
TICK_SECONDS = 0.5
STATS_SECONDS = 1.0
# Connections taken from the accept queue per wake-up, so a flood of new connections
# cannot starve the ones already open. Under a flood that reconnects as fast as it is
# closed, each newcomer costs ~0.4 ms (accept, a closed victim, their events): 16 keep
# one wake-up near 6 ms, 64 made open connections wait ~25 ms for their turn.
ACCEPT_BATCH = 16
LISTEN_BACKLOG = 1024


class Listening:
    """A listening socket and a loop that stops when asked: what a henaserver ``Server``
    and the capture ``Relay`` (``relay.py``) share. ``stop`` may come from a signal
    handler or another thread, so it only sets the reason and wakes the loop through a
    socket pair (the loop watches ``_wake_r``)."""

    def __init__(self) -> None:
        self._stop_reason: StopReason | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.listener: socket.socket | None = None
        self.address: tuple[str, int] = ("", 0)

    def bind(self, host: str, port: int) -> None:
        """Bind and listen. Raises OSError (e.g. EADDRINUSE) for the caller to report."""
        self.listener = open_listener(host, port)
        self.address = (host, self.listener.getsockname()[1])

    @property
    def url(self) -> str:
        return url_of(*self.address)

    def stop(self, reason: StopReason) -> None:
        """Ask the loop to stop. Safe from signal handlers and other threads."""
        self._stop_reason = self._stop_reason or reason
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass


class Server(Listening):
    def __init__(self, handler: Handler, limits: Limits, *, sink: EventSink | None = None,
                 access_log: TextIO | None = None, policy: ModePolicy = FULL,
                 root: str = "") -> None:
        super().__init__()
        self.handler = handler
        self.limits = limits
        self.sink = sink
        self.capturing = sink is not None
        self.access_log = access_log
        self.policy = policy
        self.root = root
        self.stats = Stats()
        self.selector = selectors.DefaultSelector()
        self.connections: dict[int, Connection] = {}  # by file descriptor
        # The connections waiting on their clients, by id, in the order they began to
        # wait (dicts keep insertion order; moving one to the back is a pop and a set):
        # those not answered yet or with a request in progress (pace.py's rank 0, by
        # when they were accepted or their request began), and idle keep-alive ones
        # answered before (rank 1, by when their last answer was sent). A connection
        # owed an answer or closing is in neither: it may not be closed to make room.
        self.unanswered: dict[int, Connection] = {}
        self.idle: dict[int, Connection] = {}
        self._interest: dict[int, int] = {}
        self._next_id = 1
        self._date_second = -1
        self._date = ""
        self.admission: Admission | None = None
        self.alarms = Alarms()  # connections whose paced response waits (paced.py)

    # --- start and stop ---------------------------------------------------------------

    def serve(self) -> StopReason:
        """Run until ``stop``; returns the reason it stopped."""
        assert self.listener is not None, "bind() first"
        self.admission = admission = Admission(self.listener, self.selector, self.stats,
                                               self.http_date)
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._emit(ServerListening(self.address[0], self.address[1], self.url, os.getpid(),
                                   self.root, self.policy.name,
                                   self.limits.capture_body_cap),
                   force=True)
        last_tick = last_stats = time.monotonic()
        published = Stats()
        while self._stop_reason is None:
            alarms = self.alarms  # empty unless a paced response waits: then no later
            timeout = alarms.timeout(TICK_SECONDS, time.time()) if alarms else TICK_SECONDS
            for key, mask in self.selector.select(timeout):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    self._drain_wakeups()
                else:
                    self._dispatch(key.data, mask)
            for connection in alarms.due(time.time()) if alarms else ():
                self._guarded(connection, connection.on_writable)
            now = time.monotonic()
            admission.resume_if_due(now)
            if now - last_tick >= TICK_SECONDS:
                last_tick = now
                wall = time.time()
                for connection in list(self.connections.values()):
                    self._guarded(connection, connection.check_timeout, wall)
            if now - last_stats >= STATS_SECONDS and self.stats != published:
                last_stats = now
                published = Stats(**vars(self.stats))
                self._emit_stats()
        self._shut_down(self._stop_reason)
        return self._stop_reason

    def _shut_down(self, reason: StopReason) -> None:
        if self.admission is not None:
            self.admission.close()
        for connection in list(self.connections.values()):
            connection.close("server stopping")
        self._emit_stats()
        self._emit(ServerStopping(reason), force=True)
        if self.sink is not None:
            self.sink.close()
        self.selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # --- the loop's work --------------------------------------------------------------

    def _accept(self) -> None:
        assert self.admission is not None
        for _ in range(ACCEPT_BATCH):
            accepted = self.admission.accept()
            if accepted is None:
                return
            sock, peer = accepted
            sock.setblocking(False)
            # Responses are written whole; don't let Nagle hold back the last segment.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn_id, self._next_id = self._next_id, self._next_id + 1
            client = f"{peer[0]}:{peer[1]}"
            now = time.time()
            # Connections closing or lingering count too (each holds a descriptor), so
            # the count can stay over the limit for a moment; refuse only when nobody
            # could be closed, never after closing someone for nothing.
            refuse = len(self.connections) >= self.limits.max_connections \
                and not self._make_room(now)
            connection = Connection(self, sock, conn_id, client, now)
            self.stats.connections += 1
            self._emit(ConnectionOpen(conn_id, client))
            self.connections[sock.fileno()] = connection
            self._interest[sock.fileno()] = selectors.EVENT_READ
            self.selector.register(sock, selectors.EVENT_READ, connection)
            self.unanswered[conn_id] = connection  # it waits for its first request
            if refuse:
                self._guarded(connection, connection.refuse_busy)

    def _make_room(self, now: float) -> bool:
        """Every slot is taken: close the connection ``pace.room_rank`` puts first (slow
        or unfinished requests before idle keep-alive ones, each the longest waiting
        first); False if none may be closed.

        The lines hold only connections waiting on their clients, so the first rank-0
        one is at or near the front: only uploads keeping a fair rate (rank None) are
        passed over, and each of those costs its client ``min_rate`` bytes a second.
        An idle one is taken only when no rank-0 one is left: the front of its line."""
        victim = next((c for c in self.unanswered.values() if c.room_rank(now) == 0), None)
        if victim is None:
            victim = next(iter(self.idle.values()), None)
        if victim is None:
            return False
        self._guarded(victim, victim.make_room, now)
        return True

    def _dispatch(self, connection: Connection, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ and not connection.closed:
                connection.on_readable()
            if mask & selectors.EVENT_WRITE and not connection.closed:
                connection.on_writable()
        except Exception:  # a bug must cost one connection, never the server
            log.exception("error on connection %d from %s", connection.id, connection.client)
            connection.close("error")

    def _guarded(self, connection: Connection, step: Callable[..., None], *args: float) -> None:
        """Run one step of a connection outside ``_dispatch``, with the same guard."""
        if connection.closed:
            return
        try:
            step(*args)
        except Exception:
            log.exception("error on connection %d from %s", connection.id, connection.client)
            connection.close("error")

    # --- the Host of every connection (see connection.Host) ---------------------------

    def watch(self, connection: Connection, *, read: bool, write: bool,
              paused_until: float = 0.0) -> None:
        """Set which readiness the loop waits for on a connection; paused: none, and
        its alarm instead (a paced response's next piece is not due yet)."""
        if paused_until:
            read = write = False
            self.alarms.set(connection, paused_until)
        events = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        fd = connection.sock.fileno()
        if self._interest.get(fd) != events:
            self._interest[fd] = events
            self.selector.modify(connection.sock, events, connection)

    def exchange_done(self, exchange: Exchange) -> None:
        self.stats.exchanges += 1
        # Numbered here, in the one thread that counts them: the event's number is the
        # stats count, so a reader tells a dropped exchange from one still to come.
        exchange = exchange._replace(number=self.stats.exchanges)
        if exchange.outcome not in ("complete", "no_response") or (exchange.status or 0) >= 400:
            self.stats.errors += 1
        self._emit(exchange)
        if self.access_log is not None:
            self._log_access(exchange)
        if self.policy.serves_one_request:
            self.stop("one request served")

    def exchange_progress(self, event: ExchangeProgress) -> None:
        self._emit(event)

    def turn(self, connection: Connection, *, waiting: bool) -> None:
        """It waits on its client from now (to the back of its line), or on the server
        (out of the lines: it may not be closed to make room)."""
        self.unanswered.pop(connection.id, None)
        self.idle.pop(connection.id, None)
        if waiting:  # answered before, no next request begun: idle (room_rank's rank 1)
            idle = connection.exchanges > 0 and connection.current is None
            (self.idle if idle else self.unanswered)[connection.id] = connection

    def connection_closed(self, connection: Connection, event: ConnectionClose) -> None:
        """Forget a closing connection (its socket is still open) and record why."""
        self.turn(connection, waiting=False)
        fd = connection.sock.fileno()
        if self.connections.pop(fd, None) is not None:
            self._interest.pop(fd, None)
            self.selector.unregister(connection.sock)
        self._emit(event)

    def http_date(self) -> str:
        """The Date header value (RFC 9110 section 6.6.1), formatted once per second."""
        now = time.time()
        if int(now) != self._date_second:
            self._date_second = int(now)
            self._date = formatdate(now, usegmt=True)
        return self._date

    # --- output -----------------------------------------------------------------------

    def _emit(self, event: ConnectionOpen | ConnectionClose | Exchange | ServerListening
              | ServerStopping | ServerStats | ExchangeProgress, *, force: bool = False
              ) -> None:
        if self.sink is not None:
            self.sink.emit(event, force=force)

    def _emit_stats(self) -> None:
        s = self.stats
        dropped = self.sink.dropped_total if self.sink is not None else 0
        self._emit(ServerStats(s.connections, s.exchanges, s.errors, s.bytes_in, s.bytes_out,
                               dropped, s.refused_no_fd), force=True)

    def _log_access(self, exchange: Exchange) -> None:
        assert self.access_log is not None
        times = exchange.times
        start = times.first_byte or times.accepted
        end = times.response_end or time.time()
        took = (end - start) * 1000 if start else 0.0
        line = (f'{exchange.method} {exchange.target} {exchange.version}'
                if exchange.method else "-")
        note = "" if exchange.outcome == "complete" else f" [{exchange.outcome}: {exchange.reason}]"
        try:
            self.access_log.write(
                f'{exchange.client} #{exchange.conn}.{exchange.index} "{line}" '
                f'{exchange.status or "-"} {exchange.response_length} {took:.1f}ms{note}\n')
        except (OSError, ValueError):
            self.access_log = None  # stdout is gone; keep serving


def open_listener(host: str, port: int) -> socket.socket:
    """A non-blocking socket listening on host:port (the capture relay's too). Raises
    OSError (e.g. EADDRINUSE) for the caller to report."""
    raise_open_file_limit()
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    listener = socket.socket(family, kind, proto)
    try:
        # SO_REUSEADDR lets a restarted server bind while old connections sit in
        # TIME_WAIT. Never SO_REUSEPORT: two servers could then share a port silently.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(LISTEN_BACKLOG)
    except OSError:
        listener.close()
        raise
    listener.setblocking(False)
    return listener


def url_of(host: str, port: int) -> str:
    """``http://HOST:PORT/``, with an IPv6 address in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def raise_open_file_limit() -> None:
    """Each connection needs a file descriptor; many systems start with a soft limit of
    1,024. Raise the soft limit to the hard limit so 1,000 connections fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
