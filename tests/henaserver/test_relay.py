"""The capture relay in front of a real henaserver: it changes no byte, and it records
the same exchanges henaserver records (docs/relay.md)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from relaykit import decoded, start_relay, undated
from support import ServerProcess

# Pipelined, keep-alive, a HEAD, a 404, a body, and a last request that closes.
REQUESTS = (b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"
            b"HEAD /index.css HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"
            b"POST /index.html HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /sub/page.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")


@pytest.fixture
def henaserver_and_relay(start_server: Callable[..., ServerProcess], docroot: Path
                         ) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    server = start_server(docroot, "--quiet")
    relay = start_relay(f"{server.host}:{server.port}")
    yield server, relay
    relay.finish()


def talk(process: ServerProcess, data: bytes) -> tuple[str, bytes]:
    """Send ``data`` on one connection and read until the server closes it."""
    raw = process.raw()
    raw.send(data)
    answer = raw.read_to_eof()
    raw.sock.close()
    return raw.address, answer


def test_the_relay_changes_no_byte(henaserver_and_relay):
    server, relay = henaserver_and_relay
    _, direct = talk(server, REQUESTS)
    _, relayed = talk(relay, REQUESTS)
    assert relayed.count(b"HTTP/1.1 ") == 5
    assert undated(relayed) == undated(direct)


def test_the_relay_records_the_exchanges_henaserver_records(henaserver_and_relay):
    server, relay = henaserver_and_relay
    client = talk(relay, REQUESTS)[0]
    relayed = relay.exchanges(client, count=5)
    # henaserver saw the relay's own connection: the one open from the relay's side.
    upstream = server.wait_for(lambda e: e["type"] == "exchange", "exchanges", count=5)
    upstream.sort(key=lambda e: e["index"])
    assert [e["index"] for e in relayed] == [0, 1, 2, 3, 4]
    for mine, theirs in zip(relayed, upstream, strict=True):
        assert decoded(mine, "request") == decoded(theirs, "request")
        assert undated(decoded(mine, "response")) == undated(decoded(theirs, "response"))
        for key in ("method", "target", "version", "status", "request_length",
                    "response_length", "outcome"):
            assert mine[key] == theirs[key], key
        assert mine["mistake"] is None and theirs["mistake"] is None
        times = mine["times"]
        assert times["accepted"] <= times["first_byte"] <= times["request_complete"] \
            <= times["response_start"] <= times["response_end"]
    closed = relay.connection_event("close", client)
    assert closed["exchanges"] == 5 and closed["bytes_in"] == len(REQUESTS)


def test_a_big_file_arrives_whole_through_bounded_buffers(henaserver_and_relay, docroot):
    # 5 MB through buffers of 256 KiB: back-pressure, not memory, carries it.
    _, relay = henaserver_and_relay
    client, answer = talk(relay, b"GET /big.bin HTTP/1.1\r\nHost: a\r\n"
                                 b"Connection: close\r\n\r\n")
    assert answer.endswith((docroot / "big.bin").read_bytes())
    event = relay.exchanges(client)[0]
    assert event["response_truncated"] and event["status"] == 200
    assert event["response_length"] == len(answer)


def test_a_client_that_closes_mid_request_is_recorded(henaserver_and_relay):
    _, relay = henaserver_and_relay
    raw = relay.raw()
    raw.send(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\nGET /ind")
    raw.read_response()
    raw.sock.close()
    first, cut = relay.exchanges(raw.address, count=2)
    assert first["outcome"] == "complete" and first["status"] == 200
    assert cut["outcome"] == "client_closed" and decoded(cut, "request") == b"GET /ind"
    assert relay.connection_event("close", raw.address)["reason"] == "client closed"


def test_bytes_that_are_not_http_still_make_an_exchange(henaserver_and_relay):
    _, relay = henaserver_and_relay
    junk = b"\x16\x03\x01\x00\xa5 a TLS handshake"
    client, answer = talk(relay, junk)
    assert answer.startswith(b"HTTP/1.1 400 ")  # henaserver's answer, forwarded
    (exchange,) = relay.exchanges(client)
    assert decoded(exchange, "request") == junk and decoded(exchange, "response") == answer
    assert exchange["method"] is None and exchange["status"] == 400
    assert exchange["reason"].startswith("not a request henaserver can read: ")


def test_a_client_that_closes_mid_response_keeps_what_was_sent(henaserver_and_relay):
    _, relay = henaserver_and_relay
    raw = relay.raw()
    raw.send(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
    raw.read_exact(100_000)
    raw.sock.close()  # with bytes unread: a reset
    (cut,) = relay.exchanges(raw.address)
    assert cut["outcome"] == "client_closed" and cut["status"] == 200
    assert decoded(cut, "response").startswith(b"HTTP/1.1 200 OK\r\n")
    assert 0 < cut["response_length"] < 5 * 1024 * 1024
    assert relay.connection_event("close", raw.address)["reason"].startswith("client")


def test_an_idle_keep_alive_connection_is_closed(start_server, docroot):
    server = start_server(docroot, "--quiet", "--idle-timeout", "300")
    relay = start_relay(f"{server.host}:{server.port}", "--idle-timeout", "0.5")
    try:
        idle, stalled = relay.raw(), relay.raw()
        idle.request(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
        stalled.send(b"GET /index.html HTTP/1.1\r\nHo")
        assert idle.read_to_eof() == b"" and stalled.read_to_eof() == b""
        assert relay.connection_event("close", idle.address)["reason"] == "idle timeout"
        assert relay.connection_event("close", stalled.address)["reason"] == "idle timeout"
        (cut,) = relay.exchanges(stalled.address)
        assert cut["outcome"] == "timed_out" and decoded(cut, "request") == \
            b"GET /index.html HTTP/1.1\r\nHo"
    finally:
        relay.finish()


def test_bytes_that_are_not_http_then_a_half_close_still_get_the_answer(
        henaserver_and_relay):
    _, relay = henaserver_and_relay
    raw = relay.raw()
    raw.send(b"HELLO\r\n\r\n")
    raw.sock.shutdown(socket.SHUT_WR)  # as netcat does after its input
    assert raw.read_to_eof().startswith(b"HTTP/1.1 400 ")
    (exchange,) = relay.exchanges(raw.address)
    assert decoded(exchange, "request") == b"HELLO\r\n\r\n" and exchange["status"] == 400


def test_keep_alive_one_request_at_a_time(henaserver_and_relay, docroot):
    _, relay = henaserver_and_relay
    raw = relay.raw()
    for path in ("/index.html", "/index.css", "/index.html"):
        response = raw.request(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode())
        assert response.body == (docroot / path.lstrip("/")).read_bytes()
    exchanges = relay.exchanges(raw.address, count=3)
    assert [e["index"] for e in exchanges] == [0, 1, 2]
    assert [e["target"] for e in exchanges] == ["/index.html", "/index.css", "/index.html"]
    opened = [e for e in relay.events() if e["type"] == "connection.open"
              and e["client"] == raw.address]
    assert len(opened) == 1
