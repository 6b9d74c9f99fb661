"""The one rule for where a head ends, checked against the table that henaserver's
parser and the browser's JavaScript are checked against too (tests/data/head_split.json),
and through every view of recorded bytes that splits a head."""

import json
from pathlib import Path

import pytest

from playground.traffic import exchanges, exports, heads, redaction

TABLE = json.loads((Path(__file__).resolve().parents[2] / "data" / "head_split.json")
                   .read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", TABLE, ids=[c["name"] for c in TABLE])
def test_head_end_follows_the_table(case):
    raw = case["message"].encode("latin-1")
    assert heads.head_end(raw) == (case["head_end"], case["body_start"])


@pytest.mark.parametrize("case", TABLE, ids=[c["name"] for c in TABLE])
def test_split_agrees_with_the_table(case):
    raw = case["message"].encode("latin-1")
    cut = heads.split(raw)
    assert cut.complete == (case["head_end"] != -1)
    if cut.complete:
        assert cut.head == raw[:case["head_end"]]
        assert cut.body == raw[case["body_start"]:]
        assert cut.head_size == case["body_start"]


def test_a_bare_lf_head_is_a_head_in_every_view():
    # The decoded view once said "the head never ended" about a request henaserver had
    # answered: a head typed into netcat, with bare LF.
    request = b"GET /x HTTP/1.1\nHost: a\nCookie: sessionid=SECRET\n\nbody"
    parsed = exports.parse(request)
    assert parsed.start == "GET /x HTTP/1.1"
    assert parsed.headers == [("Host", "a"), ("Cookie", "sessionid=SECRET")]
    assert parsed.body == b"body" and parsed.head_size == len(request) - 4
    assert redaction.redact_cookies(request, ["sessionid"]) == \
        b"GET /x HTTP/1.1\nHost: a\nCookie: sessionid=[redacted]\n\nbody"
    response = b"HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Type: text/css\n\nh1{}"
    assert exchanges.response_content_type(response) == "text/css"
    assert exports.parse(response, response=True).interim == ["HTTP/1.1 100 Continue"]


def test_lines_lose_only_their_own_line_ending():
    assert heads.head_lines(b"GET / HTTP/1.1\r\nA: 1\nB: 2\r\n") == \
        [b"GET / HTTP/1.1", b"A: 1", b"B: 2"]
