"""The relay's bounds and its ``exchange.waiting`` event (henaserver/relay_bounds.py,
docs/relay.md): a request still unanswered is announced; a browser that trickles its
head gets 408; a server that listens but never accepts gets the relay's 502
(``not_accepting``); at ``--max-connections`` an idle connection makes room, and when
every one owes something the next waits in the backlog until one ends. All with the
real relay process and real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from relaykit import BadServer, decoded, start_relay
from support import ServerProcess, assert_one_line_failure, run

REQUEST = b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def relays() -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(to: str, *options: str) -> ServerProcess:
        relay = start_relay(to, *options)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.finish()


@pytest.fixture
def silent() -> Iterator[BadServer]:
    """A server that reads the request and never answers (holds the connection)."""
    server = BadServer(lambda sock, received: None, hold=True)
    yield server
    server.stop()


def kinds(relay: ServerProcess, kind: str) -> list[dict]:
    return [e for e in relay.events() if e["type"] == kind]


def test_a_request_left_unanswered_is_announced_then_timed_out(relays, silent):
    relay = relays(silent.address, "--waiting-after", "0.2", "--response-timeout", "1.5")
    raw = relay.raw()
    raw.send(REQUEST)
    waiting = relay.wait_for(lambda e: e["type"] == "exchange.waiting", "exchange.waiting")[0]
    assert (waiting["conn"], waiting["index"], waiting["method"], waiting["target"]) == \
        (1, 0, "GET", "/slow")
    assert waiting["timeout_ms"] == 1500
    # `since` is when the request was whole: the exchange's request_complete.
    exchange = relay.wait_for(lambda e: e["type"] == "exchange", "the 504")[0]
    assert exchange["mistake"] == "never_answered" and exchange["status"] == 504
    assert waiting["since"] == exchange["times"]["request_complete"]
    assert raw.read_response().status == 504
    assert len(kinds(relay, "exchange.waiting")) == 1  # once per request


def test_a_quick_answer_is_not_announced(relays):
    server = BadServer(lambda sock, received: sock.sendall(ANSWER))
    try:
        relay = relays(server.address, "--waiting-after", "0.5")
        for _ in range(3):
            response, body = relay.fetch("/")
            assert body == b"ok"
        relay.wait_for(lambda e: e["type"] == "exchange", "exchanges", count=3)
        time.sleep(0.7)  # past --waiting-after: an announcement would have come by now
        assert kinds(relay, "exchange.waiting") == []
    finally:
        server.stop()


def test_a_trickled_request_head_gets_408_from_the_relay(relays, silent):
    relay = relays(silent.address, "--header-timeout", "0.5")
    raw = relay.raw()
    raw.send(b"GET / HTTP/1.1\r\nHo")  # and nothing more
    response = raw.read_response()
    assert response.status == 408
    assert raw.closed_by_server() == b""
    exchange = relay.wait_for(lambda e: e["type"] == "exchange", "the 408")[0]
    assert exchange["outcome"] == "timed_out" and exchange["status"] == 408
    assert exchange["mistake"] is None  # the browser's doing, not the server's
    assert decoded(exchange, "request") == b"GET / HTTP/1.1\r\nHo"
    assert "head" in exchange["reason"]
    closed = relay.wait_for(lambda e: e["type"] == "connection.close", "close")[0]
    assert closed["reason"] == "header timeout"


def test_a_server_that_never_accepts_gets_502_not_accepting(relays):
    # Listens with the smallest backlog and never calls accept(): once the backlog is
    # full, the kernel drops new connection attempts and a connect hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(address)
            fillers.append(filler)
        relay = relays(f"127.0.0.1:{address[1]}", "--connect-timeout", "0.5")
        raw = relay.raw()
        raw.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        response = raw.read_response()
        assert response.status == 502
        assert b"did not accept" in response.body
        exchange = relay.wait_for(lambda e: e["type"] == "exchange", "the 502")[0]
        assert exchange["mistake"] == "not_accepting"
        assert exchange["outcome"] == "rejected"
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def test_at_max_connections_an_idle_one_makes_room(relays):
    server = BadServer(lambda sock, received: sock.sendall(ANSWER), hold=True)
    try:
        relay = relays(server.address, "--max-connections", "2")
        first, second = relay.raw(), relay.raw()
        for raw in (first, second):  # each answered: idle, owing nothing
            assert raw.request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200
        third = relay.raw()
        assert third.request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200
        closed = relay.wait_for(lambda e: e["type"] == "connection.close", "room")[0]
        assert closed["reason"] == "closed to make room"
        assert closed["conn"] == 1  # the quiet one the longest
        assert first.closed_by_server() == b""
    finally:
        server.stop()


def test_at_max_connections_owing_ones_are_kept_and_the_next_waits(relays, silent):
    relay = relays(silent.address, "--max-connections", "2", "--response-timeout", "1.5")
    owing = [relay.raw(), relay.raw()]
    for raw in owing:
        raw.send(REQUEST)  # never answered: both owe an answer until the 504
    relay.wait_for(lambda e: e["type"] == "connection.open", "two opens", count=2)
    third = relay.raw()
    third.send(REQUEST)
    # Not accepted while both owe: the two 504s come first, then the third is served.
    for raw in owing:
        assert raw.read_response().status == 504
    opens = relay.wait_for(lambda e: e["type"] == "connection.open", "third", count=3)
    closes = [e for e in relay.events() if e["type"] == "connection.close"]
    assert len(closes) >= 1 and opens[2]["time"] >= min(e["time"] for e in closes)
    assert not any(e["reason"] == "closed to make room" for e in closes)
    assert third.read_response().status == 504


def test_a_unix_socket_server_whose_queue_is_full_gets_502_not_accepting(relays, tmp_path):
    # A Unix socket says "queue full" at once (EAGAIN): before, the relay took that
    # for a connect in progress and the browser got a reset.
    path = str(tmp_path / "full.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(0)
    filler = socket.socket(socket.AF_UNIX)
    try:
        filler.connect(path)  # takes the one place in the queue; never accepted
        relay = relays(f"unix:{path}")
        raw = relay.raw()
        raw.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        response = raw.read_response()
        assert response.status == 502 and b"queue of connections is full" in response.body
        exchange = relay.wait_for(lambda e: e["type"] == "exchange", "the 502")[0]
        assert exchange["mistake"] == "not_accepting"
    finally:
        filler.close()
        listener.close()


@pytest.mark.parametrize("option", ["--max-connections", "--header-timeout",
                                    "--connect-timeout", "--response-timeout"])
def test_a_bound_that_is_not_positive_is_one_clear_line(option):
    result = run("relay", "--listen", "127.0.0.1:0", "--to", "127.0.0.1:1", option, "0")
    assert_one_line_failure(result, "positive")
    assert option in run("relay", "--help").stdout
