"""Table tests of the protocol decisions in ``henaserver.http``, one pure function each.

Each row is (input, expected); an int expectation means "raises HTTPError with this
status". The RFC section behind each rule is in the function's docstring.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from henaserver.http import (
    NO_BODY,
    Framing,
    HTTPError,
    body_framing,
    check_host,
    expects_continue,
    find_head_end,
    index_fields,
    keep_alive,
    list_tokens,
    parse_chunk_size,
    parse_field_line,
    parse_head,
    parse_request_line,
    parse_version,
    reason_phrase,
)
from henaserver.limits import Limits
from henaserver.response import response_head, status_has_body

Headers = tuple[tuple[str, str], ...]


def status_of(call: object, *args: object) -> object:
    """The function's result, or the status of the HTTPError it raised."""
    assert callable(call)
    try:
        return call(*args)
    except HTTPError as error:
        return error.status


# --- versions (RFC 9112 section 2.3, RFC 9110 section 6.2) ----------------------------

@pytest.mark.parametrize("raw,expected", [
    (b"HTTP/1.1", "HTTP/1.1"),
    (b"HTTP/1.0", "HTTP/1.0"),
    (b"HTTP/1.2", "HTTP/1.1"),
    (b"HTTP/1.9", "HTTP/1.1"),
    (b"HTTP/2.0", 505),
    (b"HTTP/3.0", 505),
    (b"HTTP/0.9", 505),
    (b"HTTP/9.9", 505),
    (b"http/1.1", 400),
    (b"Http/1.1", 400),
    (b"HTTP/1", 400),
    (b"HTTP/11", 400),
    (b"HTTP/1.10", 400),
    (b"HTTP/1.1.1", 400),
    (b"HTTP/1.1 ", 400),
    (b" HTTP/1.1", 400),
    (b"HTTP /1.1", 400),
    (b"HTTP/a.b", 400),
    (b"HTTP/2", 400),
    (b"", 400),
])
def test_parse_version(raw: bytes, expected: object) -> None:
    assert status_of(parse_version, raw) == expected


# --- Host (RFC 9112 section 3.2) ------------------------------------------------------

@pytest.mark.parametrize("version,headers,expected", [
    ("HTTP/1.1", (("Host", "example.test"),), None),
    ("HTTP/1.1", (("host", "example.test:8080"),), None),
    ("HTTP/1.1", (("HOST", "127.0.0.1"),), None),
    ("HTTP/1.1", (("Host", "[::1]:80"),), None),
    ("HTTP/1.1", (("Host", "[2001:db8::1]"),), None),
    ("HTTP/1.1", (("Host", ""),), None),
    ("HTTP/1.1", (("Host", "xn--bcher-kva.example"),), None),
    ("HTTP/1.0", (), None),
    ("HTTP/1.0", (("Host", "example.test"),), None),
    ("HTTP/1.1", (), 400),
    ("HTTP/1.1", (("Accept", "*/*"),), 400),
    ("HTTP/1.1", (("Host", "a"), ("Host", "b")), 400),
    ("HTTP/1.1", (("Host", "a"), ("host", "a")), 400),
    ("HTTP/1.0", (("Host", "a"), ("Host", "b")), 400),
    ("HTTP/1.1", (("Host", "a b"),), 400),
    ("HTTP/1.1", (("Host", "a/b"),), 400),
    ("HTTP/1.1", (("Host", "user@a"),), 400),
    ("HTTP/1.1", (("Host", "a:b"),), 400),
    ("HTTP/1.1", (("Host", "[::1"),), 400),
    ("HTTP/1.0", (("Host", "a\\b"),), 400),
])
def test_check_host(version: str, headers: Headers, expected: int | None) -> None:
    assert status_of(check_host, version, index_fields(headers)) == expected


# --- body framing (RFC 9112 section 6.3) ----------------------------------------------

LIMITS = Limits(max_body_bytes=1000)


@pytest.mark.parametrize("version,headers,expected", [
    ("HTTP/1.1", (), NO_BODY),
    ("HTTP/1.0", (), NO_BODY),
    ("HTTP/1.1", (("Content-Length", "0"),), NO_BODY),
    ("HTTP/1.1", (("Content-Length", "10"),), Framing("length", 10)),
    ("HTTP/1.0", (("content-length", "10"),), Framing("length", 10)),
    ("HTTP/1.1", (("Content-Length", "010"),), Framing("length", 10)),
    ("HTTP/1.1", (("Content-Length", "1000"),), Framing("length", 1000)),
    ("HTTP/1.1", (("Content-Length", "7, 7"),), Framing("length", 7)),
    ("HTTP/1.1", (("Content-Length", "7"), ("Content-Length", "7")), Framing("length", 7)),
    ("HTTP/1.1", (("Transfer-Encoding", "chunked"),), Framing("chunked")),
    ("HTTP/1.1", (("transfer-encoding", "CHUNKED"),), Framing("chunked")),
    ("HTTP/1.1", (("Content-Length", "1001"),), 413),
    ("HTTP/1.1", (("Content-Length", "-1"),), 400),
    ("HTTP/1.1", (("Content-Length", "+1"),), 400),
    ("HTTP/1.1", (("Content-Length", ""),), 400),
    ("HTTP/1.1", (("Content-Length", "1 0"),), 400),
    ("HTTP/1.1", (("Content-Length", "1e3"),), 400),
    ("HTTP/1.1", (("Content-Length", "7, 8"),), 400),
    ("HTTP/1.1", (("Content-Length", "7"), ("Content-Length", "8")), 400),
    ("HTTP/1.1", (("Content-Length", "7,"),), 400),
    ("HTTP/1.1", (("Content-Length", "9" * 30),), 400),
    ("HTTP/1.1", (("Content-Length", "5"), ("Transfer-Encoding", "chunked")), 400),
    ("HTTP/1.1", (("Transfer-Encoding", "chunked"), ("Content-Length", "0")), 400),
    ("HTTP/1.1", (("Transfer-Encoding", "chunked, gzip"),), 400),
    ("HTTP/1.1", (("Transfer-Encoding", "gzip"),), 400),
    ("HTTP/1.1", (("Transfer-Encoding", "identity"),), 400),
    ("HTTP/1.1", (("Transfer-Encoding", ""),), 400),
    ("HTTP/1.1", (("Transfer-Encoding", "chunked, chunked"),), 400),
    ("HTTP/1.1", (("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")), 400),
    ("HTTP/1.1", (("Transfer-Encoding", "gzip, chunked"),), 501),
    ("HTTP/1.1", (("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")), 501),
    ("HTTP/1.0", (("Transfer-Encoding", "chunked"),), 400),
])
def test_body_framing(version: str, headers: Headers, expected: object) -> None:
    assert status_of(body_framing, version, index_fields(headers), LIMITS) == expected


def test_content_length_with_transfer_encoding_closes_the_connection() -> None:
    # RFC 9112 section 6.1: the server MUST close after answering such a request.
    with pytest.raises(HTTPError) as caught:
        body_framing("HTTP/1.1", index_fields((("Content-Length", "5"),
                                               ("Transfer-Encoding", "chunked"))))
    assert caught.value.close is True


# --- persistence (RFC 9112 section 9.3) -----------------------------------------------

@pytest.mark.parametrize("version,headers,expected", [
    ("HTTP/1.1", (), True),
    ("HTTP/1.1", (("Connection", "keep-alive"),), True),
    ("HTTP/1.1", (("Connection", "close"),), False),
    ("HTTP/1.1", (("connection", "CLOSE"),), False),
    ("HTTP/1.1", (("Connection", "upgrade, close"),), False),
    ("HTTP/1.1", (("Connection", "keep-alive"), ("Connection", "close")), False),
    ("HTTP/1.1", (("Connection", "closed"),), True),
    ("HTTP/1.0", (), False),
    ("HTTP/1.0", (("Connection", "keep-alive"),), True),
    ("HTTP/1.0", (("Connection", "Keep-Alive"),), True),
    ("HTTP/1.0", (("Connection", "keep-alive, close"),), False),
    ("HTTP/1.0", (("Keep-Alive", "timeout=5"),), False),
])
def test_keep_alive(version: str, headers: Headers, expected: bool) -> None:
    assert keep_alive(version, index_fields(headers)) is expected


# --- Expect (RFC 9110 section 10.1.1) -------------------------------------------------

@pytest.mark.parametrize("version,headers,expected", [
    ("HTTP/1.1", (), False),
    ("HTTP/1.1", (("Expect", "100-continue"),), True),
    ("HTTP/1.1", (("expect", "100-Continue"),), True),
    ("HTTP/1.0", (("Expect", "100-continue"),), False),
    ("HTTP/1.1", (("Expect", "200-ok"),), 417),
    ("HTTP/1.1", (("Expect", "100-continue, foo"),), 417),
    ("HTTP/1.0", (("Expect", "foo"),), 417),
])
def test_expects_continue(version: str, headers: Headers, expected: object) -> None:
    assert status_of(expects_continue, version, index_fields(headers)) == expected


def test_unsupported_expectation_is_not_a_framing_error() -> None:
    with pytest.raises(HTTPError) as caught:
        expects_continue("HTTP/1.1", index_fields((("Expect", "bogus"),)))
    assert caught.value.close is False


# --- chunk size (RFC 9112 section 7.1) ------------------------------------------------

@pytest.mark.parametrize("line,expected", [
    (b"0", 0),
    (b"1", 1),
    (b"a", 10),
    (b"A", 10),
    (b"00ff", 255),
    (b"7fffffff", 2**31 - 1),
    (b"ffffffffffffffff", 2**64 - 1),
    (b"5;name=value", 5),
    (b"5;a;b=\"c;d\"", 5),
    (b"5 ;ext", 5),
    (b"5\t;ext", 5),
    (b"", 400),
    (b";ext", 400),
    (b" 5", 400),
    (b"-5", 400),
    (b"+5", 400),
    (b"0x5", 400),
    (b"g", 400),
    (b"5 5", 400),
    (b"1" * 17, 400),
    (b"\xef\xbc\x95", 400),
])
def test_parse_chunk_size(line: bytes, expected: object) -> None:
    assert status_of(parse_chunk_size, line) == expected


# --- request line and field lines (RFC 9112 sections 3 and 5) -------------------------

@pytest.mark.parametrize("line,expected", [
    (b"GET / HTTP/1.1", ("GET", "/", "HTTP/1.1")),
    (b"HEAD /a?b=c HTTP/1.0", ("HEAD", "/a?b=c", "HTTP/1.0")),
    (b"OPTIONS * HTTP/1.1", ("OPTIONS", "*", "HTTP/1.1")),
    (b"CONNECT example.test:443 HTTP/1.1", ("CONNECT", "example.test:443", "HTTP/1.1")),
    (b"GET http://h/p HTTP/1.1", ("GET", "http://h/p", "HTTP/1.1")),
    (b"BREW /pot HTTP/1.1", ("BREW", "/pot", "HTTP/1.1")),
    (b"GET /\xe3\x83\x95 HTTP/1.1", ("GET", "/\xe3\x83\x95", "HTTP/1.1")),
    (b"GET / HTTP/2.0", 505),
    (b"GET /", 400),
    (b"GET", 400),
    (b"", 400),
    (b"GET  / HTTP/1.1", 400),
    (b" GET / HTTP/1.1", 400),
    (b"GET / HTTP/1.1 ", 400),
    (b"GET\t/ HTTP/1.1", 400),
    (b"GET /a b HTTP/1.1", 400),
    (b"GET /\x00 HTTP/1.1", 400),
    (b"GET /\x7f HTTP/1.1", 400),
    (b"G@T / HTTP/1.1", 400),
    (b"GET / HTTP/1.1\x00", 400),
])
def test_parse_request_line(line: bytes, expected: object) -> None:
    assert status_of(parse_request_line, line) == expected


def test_parse_request_line_limit() -> None:
    limits = Limits(max_request_line=20)
    assert parse_request_line(b"GET /123 HTTP/1.1", limits)[1] == "/123"
    assert status_of(parse_request_line, b"GET /1234567 HTTP/1.1", limits) == 414


@pytest.mark.parametrize("line,expected", [
    (b"Host: example.test", ("Host", "example.test")),
    (b"host:example.test", ("host", "example.test")),
    (b"X-A:   spaced  \t", ("X-A", "spaced")),
    (b"X-A: a  b", ("X-A", "a  b")),
    (b"X-A:", ("X-A", "")),
    (b"X-A: a:b:c", ("X-A", "a:b:c")),
    (b"X-A: caf\xe9", ("X-A", "caf\xe9")),
    (b"!#$%&'*+-.^_`|~09az: tchars", ("!#$%&'*+-.^_`|~09az", "tchars")),
    (b"X-A : b", 400),
    (b"X-A\t: b", 400),
    (b" X-A: b", 400),
    (b"\tX-A: b", 400),
    (b"X-A b", 400),
    (b": b", 400),
    (b"X A: b", 400),
    (b"X(A): b", 400),
    (b"X-\xe9: b", 400),
    (b"X-A: a\x00b", 400),
    (b"X-A: a\x01b", 400),
    (b"X-A: a\x7fb", 400),
])
def test_parse_field_line(line: bytes, expected: object) -> None:
    # Field lines reach parse_field_line decoded as latin-1, one character per byte.
    assert status_of(parse_field_line, line.decode("latin-1")) == expected


@pytest.mark.parametrize("buffer,expected", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", (25, 27)),
    (b"GET / HTTP/1.1\nHost: x\n\nBODY", (23, 24)),
    (b"GET / HTTP/1.1\r\nHost: x\n\r\nBODY", (24, 26)),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\n", (25, 26)),
    (b"GET / HTTP/1.1\r\nHost: x\r\n", (-1, -1)),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r", (-1, -1)),
    (b"", (-1, -1)),
])
def test_find_head_end(buffer: bytes, expected: tuple[int, int]) -> None:
    assert find_head_end(buffer) == expected


# The shared table of where a head ends, also checked against the playground's Python and
# the browser's JavaScript: one rule, one set of cases (tests/data/head_split.json).
HEAD_SPLIT = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "head_split.json").read_text("utf-8"))


@pytest.mark.parametrize("case", HEAD_SPLIT["cases"], ids=lambda case: case["name"])
def test_find_head_end_agrees_with_the_shared_table(case: dict[str, Any]) -> None:
    message = case["message"].encode("latin-1")  # code points 0-255 are the bytes
    assert find_head_end(message) == (case["head_end"], case["body_start"])
    assert find_head_end(bytearray(message)) == (case["head_end"], case["body_start"])


def test_parse_head_keeps_order_and_case() -> None:
    head = parse_head(b"GET /p HTTP/1.1\r\nB: 2\r\nhost: x\r\nA: 1\r\nb: 3")
    assert head.headers == (("B", "2"), ("host", "x"), ("A", "1"), ("b", "3"))
    assert head.get("b") == "2"
    assert head.get("HOST") == "x"
    assert head.get("missing") is None
    assert head.values("B") == ["2", "3"]
    assert head.values("missing") == []
    assert head.fields == {"b": ["2", "3"], "host": ["x"], "a": ["1"]}


def test_parse_head_header_count_limit() -> None:
    limits = Limits(max_header_count=2)
    assert parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1", limits).get("a") == "1"
    assert status_of(parse_head, b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2", limits) == 431


@pytest.mark.parametrize("values,expected", [
    ([], []),
    (["close"], ["close"]),
    (["Keep-Alive, Upgrade"], ["keep-alive", "upgrade"]),
    ([" a ,, b ", "C"], ["a", "b", "c"]),
    ([","], []),
])
def test_list_tokens(values: list[str], expected: list[str]) -> None:
    assert list_tokens(values) == expected


# --- responses ------------------------------------------------------------------------

@pytest.mark.parametrize("status,headers,expected", [
    (200, [("Content-Length", "0")], b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    (204, [], b"HTTP/1.1 204 No Content\r\n\r\n"),
    (404, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "12")],
     b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\n"
     b"Content-Length: 12\r\n\r\n"),
    (100, [], b"HTTP/1.1 100 Continue\r\n\r\n"),
    (206, [("Content-Range", "bytes 0-0/1")],
     b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-0/1\r\n\r\n"),
    (431, [], b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n"),
    (505, [("Connection", "close")],
     b"HTTP/1.1 505 HTTP Version Not Supported\r\nConnection: close\r\n\r\n"),
    (299, [], b"HTTP/1.1 299 Unknown\r\n\r\n"),
])
def test_response_head(status: int, headers: list[tuple[str, str]], expected: bytes) -> None:
    assert response_head(status, headers) == expected


def test_response_head_keeps_header_order_and_case() -> None:
    head = response_head(200, [("b", "2"), ("A", "1"), ("b", "3")])
    assert head == b"HTTP/1.1 200 OK\r\nb: 2\r\nA: 1\r\nb: 3\r\n\r\n"


@pytest.mark.parametrize("status,expected", [
    (200, "OK"), (206, "Partial Content"), (301, "Moved Permanently"),
    (304, "Not Modified"), (400, "Bad Request"), (405, "Method Not Allowed"),
    (408, "Request Timeout"), (417, "Expectation Failed"),
    (501, "Not Implemented"), (503, "Service Unavailable"), (999, "Unknown"),
])
def test_reason_phrase(status: int, expected: str) -> None:
    assert reason_phrase(status) == expected


@pytest.mark.parametrize("status,expected", [
    (413, "Content Too Large"), (414, "URI Too Long"), (416, "Range Not Satisfiable"),
])
def test_reason_phrases_are_rfc_9110_names(status: int, expected: str) -> None:
    # RFC 9110 section 15 renamed these; Python 3.11's HTTPStatus still has the RFC 7231
    # names, so without an override the bytes on the wire depend on the Python version.
    assert reason_phrase(status) == expected


@pytest.mark.parametrize("status,method,expected", [
    (200, "GET", True), (404, "GET", True), (206, "GET", True),
    (200, "HEAD", False), (404, "HEAD", False),
    (100, "GET", False), (204, "GET", False), (304, "GET", False), (204, "OPTIONS", False),
])
def test_status_has_body(status: int, method: str, expected: bool) -> None:
    assert status_has_body(status, method) is expected
