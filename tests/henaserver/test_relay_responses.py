"""The relay's sans-IO response reader (henaserver/responses.py), from a table of bytes:
each response is fed whole and split at every byte, and must come out the same."""

from __future__ import annotations

import pytest

from henaserver.responses import NEED_DATA, Response, ResponseReader

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CASES = [
    # (bytes, method, server closes after them?, expected (status, complete, mistake),
    #  bytes of the first response)
    (OK + b"HTTP/1.1 204 No Content\r\n\r\n", "GET", False, (200, True, None), OK),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", False, (200, True, None),
     b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", False,
     (304, True, None), b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"),
    (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, "POST", False, (200, True, None),
     b"HTTP/1.1 100 Continue\r\n\r\n" + OK),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n",
     "GET", False, (200, True, None),
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n"),
    (b"HTTP/1.0 200 OK\r\n\r\nto the end", "GET", True, (200, True, None),
     b"HTTP/1.0 200 OK\r\n\r\nto the end"),
    (b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx", "GET", False, (200, True, "bare_lf"),
     b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello", "GET", True,
     (200, False, "body_too_short"), b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello"),
    (b"", "GET", True, (None, False, "closed_without_response"), b""),
    (b"Hello there\r\n", "GET", False, (None, False, "no_status_line"), b"Hello there\r\n"),
]


def first_response(pieces: list[bytes], method: str, closes: bool) -> Response:
    reader = ResponseReader()
    for piece in pieces:
        reader.feed(piece)
        response = reader.next_response(method)
        if isinstance(response, Response):
            return response
    if closes:
        reader.close()
    response = reader.next_response(method)
    assert isinstance(response, Response), "no response after all the bytes"
    return response


@pytest.mark.parametrize(("data", "method", "closes", "expected", "raw"), CASES)
def test_whole_or_split_at_every_byte_the_same_response(data, method, closes, expected,
                                                        raw):
    splits = [[data], [data[i:i + 1] for i in range(len(data))]]
    for pieces in splits:
        response = first_response(pieces, method, closes)
        if expected[2] == "no_status_line":
            # Not HTTP: it is named as soon as the first byte shows it, with what came.
            assert response.mistake == "no_status_line" and raw.startswith(response.raw)
            continue
        assert (response.status, response.complete, response.mistake) == expected
        assert response.raw == raw


def test_a_response_is_not_taken_before_its_end():
    reader = ResponseReader()
    reader.feed(OK[:-1])
    assert reader.next_response("GET") is NEED_DATA
    reader.feed(OK[-1:])
    assert reader.next_response("GET") == Response(OK, 200)


def test_extra_bytes_stop_where_the_next_response_may_begin():
    reader = ResponseReader()
    reader.feed(b"!!" + OK)
    assert reader.take_extra(stop_at_status=True) == b"!!"
    assert reader.next_response("GET") == Response(OK, 200)


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_big_body_is_counted_not_kept(framing):
    # The reader consumes a body as it arrives: it keeps the head and `cap` body bytes,
    # so a 10 MiB download never sits in the relay's memory.
    piece, pieces = b"x" * 65536, 160
    total = len(piece) * pieces
    head = {"length": b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total,
            "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "close": b"HTTP/1.1 200 OK\r\n\r\n"}[framing]
    frame = (b"10000\r\n%s\r\n" % piece) if framing == "chunked" else piece
    reader = ResponseReader(cap=100)
    reader.feed(head)
    for _ in range(pieces - 1):
        reader.feed(frame)
        assert reader.next_response("GET") is NEED_DATA
        assert reader.buffered == 0
    reader.feed(frame + b"0\r\n\r\n" if framing == "chunked" else frame)
    if framing == "close":
        assert reader.next_response("GET") is NEED_DATA
        reader.close()
    response = reader.next_response("GET")
    assert isinstance(response, Response) and response.complete
    assert response.raw == head + frame[:100]
    assert response.length == len(head) + len(frame) * pieces + 5 * (framing == "chunked")
