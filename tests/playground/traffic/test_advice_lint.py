"""Advice on recorded bytes (traffic/advice.py): httplint's notes and the playground's,
from tables of messages as they cross the wire. No database, no server."""

import pytest

from playground.traffic import advice

BROWSER_GET = (b"GET /index.css HTTP/1.1\r\nHost: localhost:8001\r\n"
               b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0\r\n"
               b"Accept: text/css,*/*;q=0.1\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n")
DATE = b"Date: Mon, 30 Nov 2026 10:00:01 GMT\r\n"


def names(notes) -> set[str]:
    return {type(note).__name__ for note in notes}


@pytest.mark.parametrize("response, present, absent", [
    # henaserver's own answer: nothing wrong with its framing or its Date.
    (b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Type: text/css\r\nContent-Length: 5\r\n"
     b"Last-Modified: Mon, 30 Nov 2026 10:00:00 GMT\r\nETag: \"a\"\r\n\r\nbody{",
     {"CL_CORRECT"}, {"CL_INCORRECT", "DATE_CLOCKLESS", "BARE_LF", "CLOSE_DELIMITED"}),
    # The tutorial's first answers: too many bytes, no Date.
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello!!",
     {"CL_INCORRECT", "DATE_CLOCKLESS"}, {"CL_CORRECT"}),
    # No length at all: the body ends only when the connection does.
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>",
     {"CLOSE_DELIMITED", "DATE_CLOCKLESS"}, set()),
    # Lines typed with print() and "\n": three bare LFs (two fields and the empty line).
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", {"BARE_LF", "CL_CORRECT"}, set()),
    # A folded field and a line that is no field at all.
    (b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nbroken line\r\nContent-Length: 0\r\n\r\n",
     {"OBS_FOLD", "NO_COLON"}, set()),
    # "HTTP/1.1 200" without the space before an empty reason.
    (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", {"START_LINE"}, set()),
    # Not HTTP at all: said once, nothing else guessed.
    (b"<html>hello</html>", {"START_LINE"}, {"HEAD_UNFINISHED", "CL_INCORRECT"}),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", {"HEAD_UNFINISHED"}, {"CL_INCORRECT"}),
    # Chunked, well formed: its data is what httplint sees.
    (b"HTTP/1.1 200 OK\r\n" + DATE + b"Transfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n", set(), {"CHUNKS_UNREADABLE", "CLOSE_DELIMITED"}),
    (b"HTTP/1.1 200 OK\r\n" + DATE + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello",
     {"CHUNKS_UNREADABLE"}, set()),
    # Both framings at once: httplint says so when Transfer-Encoding comes first, the
    # playground in the other order.
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n", {"CL_AND_TE_PRESENT"}, {"BOTH_LENGTHS"}),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n", {"BOTH_LENGTHS"}, set()),
])
def test_notes_on_responses(response, present, absent):
    found = names(advice.lint(BROWSER_GET, response).response)
    assert present <= found, found
    assert not absent & found, found


def test_a_browser_request_gets_no_complaint_and_a_bare_one_does():
    assert not {n for n in advice.lint(BROWSER_GET, b"").request
                if n.level.value in ("bad", "warning")}
    typed = advice.lint(b"GET / HTTP/1.1\nHost: x\n\n", b"")
    assert {"BARE_LF", "MISSING_USER_AGENT"} <= names(typed.request)
    assert names(advice.lint(b"GET /\r\n\r\n", b"").request) == {"START_LINE"}
    # An empty line before the request line is ignored, as henaserver ignores it.
    leading = advice.lint(b"\r\nGET / HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n", b"")
    assert not {"START_LINE", "HEAD_UNFINISHED"} & names(leading.request)
    assert typed.response == ()


def test_a_body_cut_by_the_recording_is_not_called_wrong():
    response = b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Length: 100000\r\n\r\n" + b"x" * 1000
    cut = advice.lint(BROWSER_GET, response, response_truncated=True)
    assert "RECORDING_CUT" in names(cut.response)
    assert not {"CL_INCORRECT", "CL_CORRECT"} & names(cut.response)
    assert "CL_INCORRECT" in names(advice.lint(BROWSER_GET, response).response)


def test_a_head_response_has_no_body_to_check():
    head = b"HEAD / HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Length: 50\r\n\r\n"
    assert "CL_INCORRECT" not in names(advice.lint(head, response).response)
    assert "CL_INCORRECT" in names(advice.lint(BROWSER_GET, response).response)


@pytest.mark.parametrize("request_raw, response_raw", [
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b""),
    (b"GET /\xff\xfe HTTP/1.1\r\nHost: \xc3\x28\r\n\r\n", b"HTTP/1.1 \xff\xff OK\r\n\r\n"),
    (b"GET / HTTP/1.1\r\n: empty name\r\nX:\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nDate: yesterday\r\nContent-Length: -1\r\nETag: nope\r\n"
     b"Cache-Control: max-age=abc, max-age=\r\nContent-Type: ;;;\r\n\r\n"),
    (b"", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"),
    (b"\r\n\r\n", b"\n\n"),
])
def test_hostile_bytes_never_raise(request_raw, response_raw):
    found = advice.lint(request_raw, response_raw)
    assert sum(found.counts().values()) == len(found.request) + len(found.response)


def test_counts_add_up_by_level():
    found = advice.lint(BROWSER_GET, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello!!")
    counts = found.counts()
    assert set(counts) == set(advice.LEVELS)
    assert counts["bad"] >= 1 and counts["warning"] >= 1


def test_the_cache_keeps_the_latest_it_was_asked_about():
    cache = advice.Cache(size=2)
    one, two, three = (advice.Advice((), ()) for _ in range(3))
    cache.put(1, one)
    cache.put(2, two)
    assert cache.get(1) is one  # now the newest
    cache.put(3, three)
    assert cache.get(2) is None and cache.get(1) is one and cache.get(3) is three


def test_the_cache_is_bounded_by_bytes_too():
    """A syntax note quotes the whole field value: hostile heads must not fill memory."""
    huge = advice.lint(b"GET / HTTP/1.1\r\nHost: a/" + b"b" * 8000 + b"\r\n\r\n", b"")
    assert huge.size > 8000
    cache = advice.Cache(size=100, max_bytes=3 * huge.size)
    for key in range(10):
        cache.put(key, huge)
    assert cache.bytes <= 3 * huge.size
    assert cache.get(9) is huge and cache.get(0) is None
    cache.put(9, huge)  # again: counted once
    assert cache.bytes == sum(huge.size for key in range(10) if cache.get(key))
