"""The capture relay: ``python -m henaserver relay --listen HOST:PORT --to HOST:PORT``.

A learner's own server cannot record its traffic, so the relay stands in front of it:
it owns the port the browser talks to, opens one connection to the learner's server per
browser connection, forwards every byte both ways unchanged and in order, and writes
the same traffic events as henaserver (docs/events.md), naming what the server did wrong
(``responses.MISTAKES``). One relayed connection is ``relay_connection.py``; this module
listens, accepts and runs the loop, like ``server.py`` and for the same reasons: one
thread, a selector, nothing that blocks.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import time
from typing import Final

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
from .connection import RECV_SIZE
from .relay_bounds import check, make_room, not_accepting, wants
from .relay_connection import RelayedConnection
from .relay_events import ExchangeWaiting, RelayLimits, Stream
from .server import Listening, StopReason

# Timeouts and held exchanges are checked this often (GRACE_SECONDS is 0.1 s).
TICK_SECONDS: Final = 0.05
STATS_SECONDS: Final = 1.0
ACCEPT_BATCH: Final = 16
# A closed browser connection is read (and what comes dropped) this long at most before
# its socket is closed, as henaserver's own lingering close (connection.py).
LINGER_SECONDS: Final = 2.0


def upstream_address(text: str) -> tuple[str, int] | str:
    """``--to``: ``HOST:PORT``, or ``unix:PATH`` for a server reached through a Unix
    socket (a sandbox with no network of its own: docs/relay.md)."""
    if text.startswith("unix:"):
        if not text[5:]:
            raise ValueError(f"{text!r} names no socket path (unix:PATH)")
        return text[5:]
    return split_address(text)


def open_upstream(address: tuple[str, int] | str) -> tuple[socket.socket, str | None]:
    """A non-blocking socket connecting to the server, and why it failed at once: None,
    ``"refused"`` or ``"queue_full"``.

    A TCP connect returns at once and its result arrives as writability
    (``RelayedConnection.on_upstream_connected``); a Unix socket's may fail on the spot
    (no such file: ENOENT, nobody listening: ECONNREFUSED), or find the server's queue
    of connections full (EAGAIN: it listens but does not accept)."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    try:
        error = sock.connect_ex(address)
    except OSError as failed:  # e.g. a Unix path too long: nothing can listen there
        error = failed.errno or errno.ECONNREFUSED
    if error == errno.EAGAIN and isinstance(address, str):
        return sock, "queue_full"
    return sock, None if error in (0, errno.EINPROGRESS, errno.EAGAIN) else "refused"


def split_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[IPv6]:PORT``) -> (host, port); ValueError if malformed."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


class Relay(Listening):
    def __init__(self, upstream: tuple[str, int] | str, *, sink: EventSink | None,
                 body_cap: int, limits: RelayLimits | None = None) -> None:
        super().__init__()
        self.upstream = upstream
        self.sink = sink
        self.body_cap = body_cap
        self.limits = limits or RelayLimits()
        self.accepting = False  # the listener is registered (not while full)
        self.stats = Stats()
        self.selector = selectors.DefaultSelector()
        # Each pair has two sockets; each is registered with a (pair, side) key.
        self.pairs: dict[int, RelayedConnection] = {}  # by connection id
        self._interest: dict[socket.socket, int] = {}
        self.lingering: dict[socket.socket, float] = {}  # browser sockets closing: until
        self._next_id = 1

    def serve(self) -> StopReason:
        assert self.listener is not None, "bind() first"
        self._accepting(True)
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._emit(ServerListening(self.address[0], self.address[1], self.url, os.getpid(),
                                   "", "relay", self.body_cap), force=True)
        last_tick = last_stats = time.monotonic()
        published = Stats()
        while self._stop_reason is None:
            for key, mask in self.selector.select(TICK_SECONDS):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    self._drain_wakeups()
                elif key.data == "linger":
                    self._drain(key.fileobj)  # type: ignore[arg-type]
                else:
                    pair, side = key.data
                    self._dispatch(pair, side, mask)
            now = time.monotonic()
            if now - last_tick >= TICK_SECONDS:
                last_tick = now
                wall = time.time()
                for pair in list(self.pairs.values()):
                    check(pair, wall)
                for sock in [s for s, until in self.lingering.items() if now >= until]:
                    self._end_linger(sock)
                if not self.accepting and (len(self.pairs) < self.limits.max_connections
                                           or make_room(list(self.pairs.values()))):
                    self._accepting(True)  # room again: the backlog's turn
            if now - last_stats >= STATS_SECONDS and self.stats != published:
                last_stats, published = now, Stats(**vars(self.stats))
                self._emit_stats()
        for pair in list(self.pairs.values()):
            pair._close("server stopping")
        for sock in list(self.lingering):
            self._end_linger(sock)
        self._emit_stats()
        self._emit(ServerStopping(self._stop_reason), force=True)
        if self.sink is not None:
            self.sink.close()
        self.selector.close()
        self.listener.close()
        self._wake_r.close()
        self._wake_w.close()
        return self._stop_reason

    def _accepting(self, on: bool) -> None:
        """Watch the listener or not: while full, new connections wait in the kernel's
        backlog (the browser sees a slow connect, never a reset)."""
        assert self.listener is not None
        if on != self.accepting:
            if on:
                self.selector.register(self.listener, selectors.EVENT_READ, "accept")
            else:
                self.selector.unregister(self.listener)
            self.accepting = on

    def _accept(self) -> None:
        assert self.listener is not None
        for _ in range(ACCEPT_BATCH):
            if len(self.pairs) >= self.limits.max_connections \
                    and not make_room(list(self.pairs.values())):
                self._accepting(False)  # every one owes something: accept later
                return
            try:
                client, peer = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # out of descriptors: try again on the next tick
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    self._accepting(False)  # not a busy loop meanwhile
                    return
                raise
            try:
                client.setblocking(False)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                upstream, failed = open_upstream(self.upstream)
            except OSError:  # no descriptor left for the server's side (or a reset)
                client.close()  # the browser sees a close, the relay lives on
                self._accepting(False)  # until the next tick (not a busy loop meanwhile)
                return
            conn_id, self._next_id = self._next_id, self._next_id + 1
            peer_text = f"{peer[0]}:{peer[1]}"
            pair = RelayedConnection(self, client, upstream, conn_id, peer_text, time.time())
            pair.refused = failed is not None  # the relay answers 502 to its first request
            if failed == "queue_full":
                pair.refusal = not_accepting(None)
            self.pairs[conn_id] = pair
            self.stats.connections += 1
            self._emit(ConnectionOpen(conn_id, peer_text))
            self.watch(pair)

    def _dispatch(self, pair: RelayedConnection, side: str, mask: int) -> None:
        if pair.closed:
            return
        if side == "upstream" and not pair.connected and not pair.refused:
            pair.on_upstream_connected()
        elif mask & selectors.EVENT_READ:
            if side == "client":
                pair.on_client_readable()
            else:
                pair.on_upstream_readable()
        if not pair.closed and mask & selectors.EVENT_WRITE:
            pair.on_writable()

    # --- the RelayHost of every pair ----------------------------------------------------

    def watch(self, pair: RelayedConnection) -> None:
        for sock, side, flags in zip((pair.client, pair.upstream), ("client", "upstream"),
                                     wants(pair), strict=True):
            events = ((selectors.EVENT_READ if flags & 1 else 0)
                      | (selectors.EVENT_WRITE if flags & 2 else 0))
            before = self._interest.get(sock)
            if before == events:
                continue
            if not events:
                if before:
                    self.selector.unregister(sock)
                self._interest[sock] = 0
            elif before:
                self.selector.modify(sock, events, (pair, side))
            else:
                self.selector.register(sock, events, (pair, side))
            self._interest[sock] = events

    def exchange_done(self, exchange: Exchange) -> None:
        self.stats.exchanges += 1
        if exchange.outcome != "complete" or exchange.mistake or (exchange.status or 0) >= 400:
            self.stats.errors += 1
        self._emit(exchange._replace(number=self.stats.exchanges))

    def stream(self, record: Stream | ExchangeWaiting) -> None:
        self._emit(record)

    def closed(self, pair: RelayedConnection, event: ConnectionClose) -> None:
        for sock in (pair.client, pair.upstream):
            if self._interest.pop(sock, 0):
                self.selector.unregister(sock)
        self.pairs.pop(pair.id, None)
        self._emit(event)
        if not self.accepting and self._stop_reason is None:
            self._accepting(True)  # room again

    def linger(self, sock: socket.socket) -> None:
        """Closing a socket whose browser is still sending resets the connection, and a
        reset can make the browser lose the answer it has not read yet (a learner's
        server that answers and closes before reading a whole upload). So: FIN after the
        answer, then read and drop what the browser still sends, until it closes or
        LINGER_SECONDS pass."""
        if self._stop_reason is not None or len(self.lingering) >= \
                self.limits.max_connections:
            sock.close()
            return
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        self.lingering[sock] = time.monotonic() + LINGER_SECONDS
        self.selector.register(sock, selectors.EVENT_READ, "linger")

    def _drain(self, sock: socket.socket) -> None:
        try:
            if sock.recv(RECV_SIZE):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._end_linger(sock)

    def _end_linger(self, sock: socket.socket) -> None:
        self.lingering.pop(sock, None)
        self.selector.unregister(sock)
        sock.close()

    def _emit(self, event: ServerListening | ServerStopping | ServerStats | ConnectionOpen
              | ConnectionClose | Exchange | Stream | ExchangeWaiting, *, force: bool = False
              ) -> None:
        if self.sink is not None:
            self.sink.emit(event, force=force)

    def _emit_stats(self) -> None:
        s = self.stats
        dropped = self.sink.dropped_total if self.sink is not None else 0
        self._emit(ServerStats(s.connections, s.exchanges, s.errors, s.bytes_in,
                               s.bytes_out, dropped, 0), force=True)
