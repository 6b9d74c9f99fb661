"""The checker's connection (client.py) against real sockets: each framing read to its
exact end, every wait bounded by the deadline, resets and early answers seen, Stop
honoured inside a wait."""

from __future__ import annotations

import threading
import time

import pytest
from testkit.checked import read_head

from playground.checking.context import Context
from playground.checking.inputs import GeneratedFiles
from playground.checking.results import Cancelled, CheckFailed

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def context(target, seconds: float = 3.0, cancelled=None) -> Context:
    connected: list[int] = []
    ctx = Context(target, GeneratedFiles.make(), stage=1, label="1.1",
                  deadline=time.monotonic() + seconds,
                  on_connect=lambda port, stage, label: connected.append(port),
                  cancelled=cancelled or threading.Event(), shared={})
    ctx.connected = connected  # type: ignore[attr-defined]
    return ctx


def answering(*responses: bytes, close: bool = True):
    """A handler that reads a head and sends each of ``responses`` (then closes, or
    waits for the checker to hang up)."""
    def handler(conn, number):
        read_head(conn)
        for response in responses:
            conn.sendall(response)
        if not close:
            conn.recv(1)  # until the checker closes
    return handler


def test_content_length_two_responses_on_one_connection(servers):
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    second = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    ctx = context(servers.scripted(answering(first, second, close=False)))
    conn = ctx.connect()
    sent = conn.send(REQUEST)
    one, two = conn.read_response(), conn.read_response()
    assert (one.raw, one.body, one.framing, one.status) == (first, b"abc", "length", 200)
    assert (two.raw, two.status, two.sent.index) == (second, 404, 1)
    assert one.sent == sent and ctx.sent == [sent] and ctx.connected == [sent.local_port]
    assert one.body_offset == first.index(b"abc")


def test_chunked_and_close_delimited_bodies(servers):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
    closed = b"HTTP/1.1 200 OK\r\n\r\nuntil the end"
    for raw, body, framing in ((chunked, b"abcde", "chunked"),
                               (closed, b"until the end", "close")):
        conn = context(servers.scripted(answering(raw))).connect()
        conn.send(REQUEST)
        response = conn.read_response()
        assert (response.raw, response.body, response.framing) == (raw, body, framing)


def test_a_head_response_has_no_body(servers):
    conn = context(servers.scripted(answering(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", close=False))).connect()
    conn.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert conn.read_response(head_request=True).body == b""


def test_no_length_and_never_closed_is_never_closes(servers):
    conn = context(servers.scripted(answering(b"HTTP/1.1 200 OK\r\n\r\nbody", close=False)),
                   seconds=0.8).connect()
    conn.send(REQUEST)
    with pytest.raises(CheckFailed) as failed:
        conn.read_response()
    assert failed.value.failure.hint == "never-closes"
    assert failed.value.failure.offset == len(b"HTTP/1.1 200 OK\r\n\r\nbody")


def test_a_body_shorter_than_its_length(servers):
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    for close, words in ((True, "ended after 3 bytes"), (False, "Only 3 of the 10")):
        conn = context(servers.scripted(answering(raw, close=close)), seconds=0.8).connect()
        conn.send(REQUEST)
        with pytest.raises(CheckFailed) as failed:
            conn.read_response()
        assert words in str(failed.value.failure.message)
        assert failed.value.failure.offset == len(raw)


def test_a_bad_content_length_points_at_its_line(servers):
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabc"
    conn = context(servers.scripted(answering(raw))).connect()
    conn.send(REQUEST)
    with pytest.raises(CheckFailed) as failed:
        conn.read_response()
    assert failed.value.failure.offset == 17


@pytest.mark.parametrize("value", [b"\xb2", b"+3", b"0x3"])
def test_a_content_length_of_other_than_ascii_digits_is_refused_at_its_line(servers, value):
    # "\xb2" is "²" in latin-1: str.isdigit() says yes, int() says no (RFC 9110 §8.6:
    # Content-Length = 1*DIGIT, ASCII digits only).
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\nabc"
    conn = context(servers.scripted(answering(raw))).connect()
    conn.send(REQUEST)
    with pytest.raises(CheckFailed) as failed:
        conn.read_response()
    assert failed.value.failure.offset == 17


@pytest.mark.parametrize("size", [b"-1", b"0x3", b"+3", b"1_0"])
def test_a_chunk_size_of_other_than_hex_digits_is_malformed(servers, size):
    # chunk-size = 1*HEXDIG (RFC 9112 §7.1): Python's int(text, 16) also takes a sign,
    # "0x" and "_", which no client may.
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size
           + b"\r\nabc\r\n0\r\n\r\n")
    conn = context(servers.scripted(answering(raw))).connect()
    conn.send(REQUEST)
    with pytest.raises(CheckFailed) as failed:
        conn.read_response()
    assert failed.value.failure.offset == raw.index(b"\r\n\r\n") + 4


def test_a_head_rule_broken_raises_with_its_byte(servers):
    raw = b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"
    conn = context(servers.scripted(answering(raw))).connect()
    sent = conn.send(REQUEST)
    with pytest.raises(CheckFailed) as failed:
        conn.read_response()
    failure = failed.value.failure
    assert (failure.offset, failure.sent, failure.received) == (31, sent, raw)


def test_a_bare_lf_is_read_past_as_a_browser_would(servers):
    # RFC 9112 §2.2: a recipient may take a lone LF for a line's end. Only stage 2
    # judges it (from the scanned head); reading goes on.
    raw = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"
    conn = context(servers.scripted(answering(raw))).connect()
    conn.send(REQUEST)
    response = conn.read_response()
    assert (response.status, response.body, response.raw) == (200, b"hi", raw)
    assert [p.hint for p in response.head.problems] == ["bare-lf", "bare-lf", "bare-lf"]


def test_silence_ends_at_the_deadline(servers):
    conn = context(servers.scripted(answering(close=False)), seconds=0.6).connect()
    conn.send(REQUEST)
    with pytest.raises(CheckFailed) as failed:
        conn.read_response()
    assert "No response within" in str(failed.value.failure.message)


def test_closing_with_the_request_unread_is_a_reset(servers):
    def one_recv(conn, number):
        conn.recv(100)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        # close() with bytes unread: Linux answers RST
    conn = context(servers.scripted(one_recv)).connect()
    try:
        conn.send(b"GET / HTTP/1.1\r\nX: " + b"x" * 6000 + b"\r\n\r\n")
        conn.read_response()
        conn.read_until_close(2)
    except CheckFailed as failed:
        assert failed.failure.hint == "one-recv"
    assert conn.was_reset() and not conn.closed_cleanly()


def test_pieces_stop_when_the_server_answers_early(servers):
    def early(conn, number):
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        conn.recv(1)
    conn = context(servers.scripted(early)).connect()
    conn.send_pieces([b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"], 0.5)
    assert conn.interrupted_at == len(b"GET / HTTP/1.1\r\n")
    assert conn.read_response().status == 200


def test_pieces_all_sent_to_a_server_that_waits(servers):
    got = []

    def patient(conn, number):
        got.append(read_head(conn))
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    conn = context(servers.scripted(patient)).connect()
    conn.send_pieces([b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"], 0.05)
    assert conn.read_response().status == 204 and conn.interrupted_at is None
    assert got == [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]


def test_stop_ends_a_wait(servers):
    stop = threading.Event()
    conn = context(servers.scripted(answering(close=False)), seconds=60,
                   cancelled=stop).connect()
    conn.send(REQUEST)
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(Cancelled):
        conn.read_response()


def test_refused(servers, free_port):
    from playground.checking.results import Target

    with pytest.raises(CheckFailed) as failed:
        context(Target("127.0.0.1", free_port, "/nonexistent")).connect()
    assert str(free_port) in str(failed.value.failure.message)
    assert failed.value.failure.sent is None
