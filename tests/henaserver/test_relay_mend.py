"""Findings of the relay's review, each against the REAL relay process: an answer with
no length from a server that never closes is named for what it is, and a request whose
body is over henaserver's own serving limit is still one exchange through the relay
(the relay records; it does not serve)."""

from __future__ import annotations

import socket

import pytest
from relaykit import decoded

from henaserver.http import Request
from henaserver.parser import NEED_DATA, RequestParser
from henaserver.relay_events import RECORDING

REQUEST = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def cut_off(behind, sent: bytes) -> dict:
    """The exchange of a server that sends ``sent`` and then neither sends nor closes,
    after the relay's response timeout (the browser gets ``sent``, then the close)."""
    _, relay = behind(lambda sock, received: sock.sendall(sent), "--response-timeout",
                      "0.5", hold=True)
    raw = relay.raw()
    raw.send(REQUEST)
    assert raw.read_to_eof() == sent  # the relay closes at its timeout: the page ends
    exchange = relay.exchanges(raw.address)[0]
    raw.sock.close()
    assert decoded(exchange, "response") == sent
    return exchange


def test_no_length_and_never_closed_is_its_own_mistake(behind):
    # The tutorial's classic: no Content-Length, the socket left open. The browser
    # cannot know where the body ends and spins; there was no length to fall short of.
    exchange = cut_off(behind, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
                               b"<h1>hello</h1>")
    assert (exchange["mistake"], exchange["outcome"], exchange["status"]) == \
        ("no_length_never_closed", "timed_out", 200)


def test_a_short_content_length_never_closed_is_still_body_too_short(behind):
    exchange = cut_off(behind, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert (exchange["mistake"], exchange["outcome"]) == ("body_too_short", "timed_out")


def upload_server(sock: socket.socket, received: bytes) -> None:
    """Reads the whole upload (Content-Length), answers with its size, keeps the
    connection for the next request, and answers that too."""
    for _ in range(2):
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += sock.recv(1 << 20)
        received = body[length:]
        answer = str(length).encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)


def test_a_5_mb_upload_is_one_exchange_and_the_connection_goes_on(behind):
    body = bytes(range(256)) * (5_000_000 // 256)
    upload = (b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)
              + body)
    after = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    bad, relay = behind(upload_server)
    raw = relay.raw(timeout=20)
    raw.sock.sendall(upload + after)
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n%d" % len(body)
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n0"
    assert raw.read_until(second) == first + second
    exchanges = relay.exchanges(raw.address, count=2)
    raw.sock.close()
    upload_event, next_event = exchanges
    assert (upload_event["method"], upload_event["target"], upload_event["reason"]) == \
        ("POST", "/upload", None)
    assert upload_event["request_length"] == len(upload)
    assert upload_event["request_truncated"] is True
    kept = decoded(upload_event, "request")
    assert upload.startswith(kept) and len(kept) == upload.index(b"\r\n\r\n") + 4 + 65536
    assert decoded(upload_event, "response") == first
    assert (next_event["target"], decoded(next_event, "request")) == ("/next", after)
    assert [e for e in relay.events() if e["type"] == "stream"] == []


def test_a_head_over_henaserver_s_own_limits_is_still_an_exchange(behind):
    # henaserver answers 431 over 32 KiB of head; a learner's server may accept it,
    # and the relay records what it is given (up to the response reader's 64 KiB).
    request = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n"
    sent = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    _, relay = behind(lambda sock, received: sock.sendall(sent))
    raw = relay.raw()
    raw.send(request)
    assert raw.read_to_eof() == sent
    exchange = relay.exchanges(raw.address)[0]
    raw.sock.close()
    assert (exchange["method"], exchange["reason"]) == ("GET", None)
    assert decoded(exchange, "request") == request


@pytest.mark.parametrize("chunked", [False, True])
def test_the_recording_parser_keeps_a_body_only_up_to_its_cap(chunked):
    # Sans-IO: 10 MiB of body cost the parser the cap, not 10 MiB; the whole length
    # is still known, and the next request is found where this one ends.
    body = b"x" * (10 * 2**20)
    if chunked:
        head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        message = head + b"".join(b"%x\r\n%s\r\n" % (2**16, body[i:i + 2**16])
                                  for i in range(0, len(body), 2**16)) + b"0\r\n\r\n"
    else:
        head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)
        message = head + body
    parser = RequestParser(RECORDING, keep_body=100)
    requests = []
    stream = message + b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    for i in range(0, len(stream), 65536):
        parser.feed(stream[i:i + 65536])
        while (event := parser.next_event()) is not NEED_DATA:
            if isinstance(event, Request):
                requests.append((event, parser.last_length))
            assert len(parser.received) <= len(head) + 100 + 65536
    (upload, length), (following, _) = requests
    assert (upload.raw, len(upload.body), length) == (message[:len(head) + 100], 100,
                                                       len(message))
    assert following.head.target == "/next"


@pytest.mark.parametrize("sent, outcome", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "complete"),
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno", "rejected"),
])
def test_an_unreadable_request_is_rejected_only_if_the_server_refused_it(behind, sent,
                                                                         outcome):
    # No Host: henaserver's parser cannot read it (400), but the tutorial's netcat test
    # sends just that, and a learner's server that answers 200 rejected nothing (final
    # review: it was `rejected`, and counted as an error).
    request = b"GET / HTTP/1.1\r\n\r\n"
    _, relay = behind(lambda sock, received: sock.sendall(sent))
    raw = relay.raw()
    raw.send(request)
    assert raw.read_to_eof() == sent
    exchange = relay.exchanges(raw.address)[0]
    raw.sock.close()
    assert exchange["reason"].startswith("not a request henaserver can read")
    assert (exchange["outcome"], exchange["status"]) == (outcome, int(sent[9:12]))
