"""The relay in front of small hand-written bad servers: each makes one mistake, the
browser still gets exactly the bytes the server sent, and the exchange names the
mistake (docs/events.md, ``mistake``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from relaykit import decoded, start_relay
from support import ServerProcess

REQUEST = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def sends(data: bytes) -> Callable[[socket.socket, bytes], None]:
    return lambda sock, received: sock.sendall(data)


def one_exchange(relay: ServerProcess, request: bytes = REQUEST
                 ) -> tuple[bytes, dict[str, Any]]:
    """Send a request, read until the relay closes, and return (bytes, exchange)."""
    raw = relay.raw()
    raw.send(request)
    answer = raw.read_to_eof()
    raw.sock.close()
    return answer, relay.exchanges(raw.address)[0]


@pytest.mark.parametrize(("sent", "mistake", "status", "outcome"), [
    (b"", "closed_without_response", None, "server_closed"),
    (b"<html>hello</html>\n", "no_status_line", None, "complete"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "body_too_short", 200,
     "server_closed"),
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", "bare_lf", 200, "complete"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", None, 200, "complete"),
    (b"HTTP/1.1 200 OK\r\n\r\nuntil close", None, 200, "complete"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     None, 200, "complete"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "body_too_short",
     200, "server_closed"),
])
def test_each_mistake_is_named_and_the_bytes_pass_unchanged(behind, sent, mistake, status,
                                                            outcome):
    _, relay = behind(sends(sent))
    answer, exchange = one_exchange(relay)
    assert answer == sent
    assert decoded(exchange, "response") == sent
    assert exchange["response_length"] == len(sent)
    assert (exchange["mistake"], exchange["status"], exchange["outcome"]) == \
        (mistake, status, outcome)
    assert decoded(exchange, "request") == REQUEST


def test_more_body_bytes_than_content_length(behind):
    sent = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more"
    _, relay = behind(sends(sent))
    answer, exchange = one_exchange(relay)
    assert answer == sent and decoded(exchange, "response") == sent
    assert exchange["mistake"] == "body_too_long" and exchange["status"] == 200


def test_a_server_that_never_answers_gets_a_504_from_the_relay(behind):
    bad, relay = behind(lambda sock, received: None, "--response-timeout", "0.5", hold=True)
    answer, exchange = one_exchange(relay)
    assert answer.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n")
    assert b"did not answer within 0.5 seconds" in answer
    assert exchange["mistake"] == "never_answered" and exchange["status"] == 504
    assert exchange["outcome"] == "timed_out" and decoded(exchange, "response") == answer
    assert bad.requests == [REQUEST]


def test_nothing_listening_gets_a_502_from_the_relay(reserve_ports):
    port = reserve_ports(1)[0]  # held, never listening: the connection is refused
    relay = start_relay(f"127.0.0.1:{port}")
    try:
        answer, exchange = one_exchange(relay)
    finally:
        relay.finish()
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"Nothing is listening" in answer
    assert exchange["mistake"] == "not_listening" and exchange["status"] == 502
    assert exchange["method"] == "GET" and decoded(exchange, "request") == REQUEST


def test_pipelined_answers_are_split_one_per_request(behind):
    answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % n for n in range(3)]
    requests = [b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % n for n in range(3)]

    def answer_all(sock: socket.socket, received: bytes) -> None:
        while received.count(b"\r\n\r\n") < 3:
            received += sock.recv(65536)
        sock.sendall(b"".join(answers))  # one write: the relay must find each end

    _, relay = behind(answer_all)
    raw = relay.raw()
    raw.send(b"".join(requests))
    assert raw.read_to_eof() == b"".join(answers)
    exchanges = relay.exchanges(raw.address, count=3)
    assert [decoded(e, "request") for e in exchanges] == requests
    assert [decoded(e, "response") for e in exchanges] == answers
    assert [e["mistake"] for e in exchanges] == [None, None, None]


def test_after_an_answer_with_no_status_line_the_rest_is_a_stream(behind):
    go_on = threading.Event()

    def chatter(sock: socket.socket, received: bytes) -> None:
        sock.sendall(b"hello\n")
        go_on.wait(5)
        sock.sendall(b"and more\n")

    _, relay = behind(chatter)
    raw = relay.raw()
    raw.send(REQUEST)
    assert raw.read_until(b"hello\n") == b"hello\n"
    exchange = relay.exchanges(raw.address)[0]
    assert exchange["mistake"] == "no_status_line"
    go_on.set()
    assert raw.read_to_eof() == b"and more\n"
    stream = relay.wait_for(lambda e: e["type"] == "stream", "stream record")[0]
    assert stream["direction"] == "to_client" and decoded(stream, "data") == b"and more\n"


def test_a_server_behind_a_unix_socket(tmp_path):
    # How a sandbox with no network of its own is reached (docs/relay.md).
    path = str(tmp_path / "server.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    sent = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nunix"

    def serve() -> None:
        sock, _ = listener.accept()
        with sock:
            while b"\r\n\r\n" not in sock.recv(65536):
                pass
            sock.sendall(sent)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    relay = start_relay(f"unix:{path}")
    try:
        answer, exchange = one_exchange(relay)
    finally:
        relay.finish()
        listener.close()
    assert answer == sent and decoded(exchange, "response") == sent
    assert exchange["mistake"] is None and exchange["status"] == 200


def test_a_unix_socket_with_no_server_gets_a_502(tmp_path):
    relay = start_relay(f"unix:{tmp_path / 'nobody.sock'}")
    try:
        answer, exchange = one_exchange(relay)
    finally:
        relay.finish()
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert exchange["mistake"] == "not_listening"


def test_back_pressure_a_browser_that_reads_nothing_stalls_the_server(behind):
    # The relay's buffers are bounded: while the browser reads nothing, the server's
    # sends must stall once the buffers on the way (kernel and relay) are full, instead
    # of the relay taking everything into memory.
    total = 128 * 1024 * 1024
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total
    chunk = bytes(1024 * 1024)
    stalled_at: list[int] = []
    stalled = threading.Event()

    def flood(sock: socket.socket, received: bytes) -> None:
        sock.sendall(head)
        sock.settimeout(1.0)
        sent = 0
        try:
            while sent < total:
                sent += sock.send(chunk[:min(len(chunk), total - sent)])
        except TimeoutError:
            stalled_at.append(sent)
        stalled.set()
        sock.settimeout(None)
        view = memoryview(chunk)
        while sent < total:
            sent += sock.send(view[:min(len(chunk), total - sent)])

    _, relay = behind(flood)
    raw = relay.raw(timeout=30)
    raw.send(REQUEST)
    assert stalled.wait(60)
    # Generous: loopback socket buffers take a few MiB each; the relay adds 256 KiB.
    assert stalled_at and stalled_at[0] < 48 * 1024 * 1024, stalled_at
    raw.read_until(b"\r\n\r\n")
    assert len(raw.read_exact(total)) == total
    exchange = relay.exchanges(raw.address, timeout=30)[0]
    assert exchange["response_length"] == len(head) + total
    assert exchange["mistake"] is None


def test_after_a_request_the_parser_cannot_read_the_rest_is_a_stream(behind):
    refusal = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    _, relay = behind(sends(refusal), hold=True)
    raw = relay.raw()
    raw.send(b"GET / HTTP/1.1\r\n\r\n")  # no Host: henaserver's parser refuses it
    assert raw.read_until(b"\r\n\r\n") == refusal
    (exchange,) = relay.exchanges(raw.address)
    assert exchange["status"] == 400 and exchange["method"] == "GET"
    assert "Host" in exchange["reason"]
    raw.send(b"more bytes")
    stream = relay.wait_for(lambda e: e["type"] == "stream", "stream record")[0]
    assert stream["direction"] == "to_server" and decoded(stream, "data") == b"more bytes"
