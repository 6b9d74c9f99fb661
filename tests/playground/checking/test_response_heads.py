"""The response head's grammar, byte by byte (heads.py): each broken rule is found with
the offset of the first byte that breaks it, and the hint its bytes show."""

from __future__ import annotations

import pytest

from playground.checking.heads import head_length, scan_head

GOOD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi"


def test_a_good_head():
    head = scan_head(GOOD)
    assert head.problems == () and head.complete
    assert (head.version, head.status, head.reason) == ("HTTP/1.1", 200, "OK")
    assert head.headers == (("Content-Type", "text/html"), ("Content-Length", "2"))
    assert head.header_offsets == (17, 42) and head.end == len(GOOD) - 2
    assert head.header("content-length") == "2" and head.header("nope") is None


def test_the_first_bare_lf_is_pointed_at():
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\nContent-Length: 2\r\n\r\nhi"
    head = scan_head(raw)
    [problem] = head.problems
    assert (problem.part, problem.offset, problem.hint) == ("header", 40, "bare-lf")
    assert raw[problem.offset:problem.offset + 1] == b"\n" and raw[39:40] == b"l"


def test_a_head_written_with_lf_alone_is_still_read():
    head = scan_head(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi")
    assert [(p.part, p.offset, p.hint) for p in head.problems] == [
        ("status-line", 15, "bare-lf"), ("header", 33, "bare-lf"), ("end", 34, "bare-lf")]
    assert head.complete and head.end == 35 and head.header("Content-Length") == "2"


@pytest.mark.parametrize(("line", "offset"), [
    (b"HTTP/1.1 200 OK", None),
    (b"HTTP/1.1 404 ", None),            # an empty reason phrase is allowed
    (b"HTTP/1.1 200", 12),               # the space before the reason is not optional
    (b"HTTP/1.1 20 OK", 11),
    (b"HTTP/1.1  200 OK", 9),
    (b"http/1.1 200 OK", 0),
    (b"HTTP/11 200 OK", 6),
    (b"HTTP/1.1 200 O\x01K", 14),
    (b"<html>", 0),
])
def test_status_line_grammar(line, offset):
    problems = scan_head(line + b"\r\n\r\n").problems_in("status-line")
    assert [p.offset for p in problems] == ([] if offset is None else [offset])


@pytest.mark.parametrize(("line", "offset", "hint"), [
    (b"Content-Type : text/html", 12, ""),     # a space before the colon
    (b"Content(Type): x", 7, ""),
    (b": x", 0, ""),
    (b" folded", 0, ""),
    (b"X: a\x00b", 4, ""),
    (b"<h1>Hello</h1>", 0, "no-empty-line"),  # the body, with no empty line before it
])
def test_header_line_grammar(line, offset, hint):
    raw = b"HTTP/1.1 200 OK\r\n" + line + b"\r\n\r\n"
    [problem] = scan_head(raw).problems_in("header")
    assert (problem.offset - 17, problem.hint) == (offset, hint)


def test_a_lone_cr():
    [problem] = scan_head(b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n").problems
    assert problem.offset == 21 and problem.part == "header"


def test_no_empty_line():
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    head = scan_head(raw)
    [problem] = head.problems
    assert (problem.part, problem.offset, problem.hint) == ("end", len(raw), "no-empty-line")
    assert not head.complete and head_length(raw) is None


def test_nothing():
    [problem] = scan_head(b"").problems
    assert (problem.part, problem.offset) == ("status-line", 0)


def test_head_length_needs_the_empty_line():
    assert head_length(b"HTTP/1.1 200 OK\r\n") is None
    assert head_length(b"HTTP/1.1 200 OK\r\n\r\nbody") == 19
    assert head_length(b"HTTP/1.1 200 OK\n\nbody") == 17
