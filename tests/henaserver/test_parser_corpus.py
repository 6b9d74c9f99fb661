"""The request corpus fed to ``RequestParser`` whole, byte by byte, split in two at every
position, in seeded random pieces, and followed by a pipelined request.

The parser must not care how TCP cut the stream: every split has to give the same events
(or the same error), and ``Request.raw`` must be exactly the bytes that were fed.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest
from corpus import INVALID, VALID, Case

from henaserver.http import HTTPError, Request, RequestHead
from henaserver.limits import DEFAULT_LIMITS, Limits
from henaserver.parser import NEED_DATA, RequestParser

SECOND = b"GET /second?pipelined=1 HTTP/1.1\r\nHost: pipelined.test\r\n\r\n"
RANDOM_SPLITS = 12


def run(chunks: list[bytes], limits: Limits = DEFAULT_LIMITS
        ) -> tuple[list[RequestHead | Request], HTTPError | None]:
    """Feed chunks one at a time, draining events after each; stop at the first error."""
    parser = RequestParser(limits)
    events: list[RequestHead | Request] = []
    for chunk in chunks:
        parser.feed(chunk)
        while True:
            try:
                event = parser.next_event()
            except HTTPError as error:
                return events, error
            if event is NEED_DATA:
                break
            assert isinstance(event, RequestHead | Request)
            events.append(event)
    return events, None


def splits(data: bytes, seed: str, *, every_cut: bool = True
           ) -> Iterator[tuple[str, list[bytes]]]:
    """Ways TCP might deliver ``data``: whole, byte by byte, two pieces at every cut, and
    seeded random pieces (the seed is the case name, so a failure replays exactly)."""
    yield "whole", [data]
    yield "byte by byte", [data[i:i + 1] for i in range(len(data))]
    if every_cut:
        for cut in range(1, len(data)):
            yield f"cut at {cut}", [data[:cut], data[cut:]]
    rng = random.Random(seed)
    for n in range(RANDOM_SPLITS):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 12))))
        bounds = [0, *cuts, len(data)]
        pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
        yield f"random split {n} at {cuts}", pieces


def describe(events: list[RequestHead | Request], error: HTTPError | None) -> object:
    """What a run produced, in a form that compares equal across splits."""
    return events, None if error is None else error.status


# --- valid requests -------------------------------------------------------------------

@pytest.mark.parametrize("case", VALID, ids=str)
def test_valid_request_parses_as_expected(case: Case) -> None:
    events, error = run([case.raw])
    assert error is None, f"{case.name}: unexpected {error.status} {error.reason}"
    assert len(events) == 2, events
    head, request = events
    assert isinstance(head, RequestHead)
    assert isinstance(request, Request)
    want = case.expect
    assert head.method == want["method"]
    assert head.target == want["target"]
    assert head.version == want["version"]
    assert [list(pair) for pair in head.headers] == want["headers"]
    assert (head.framing.kind, head.framing.length) == (want["framing"]["kind"],
                                                        want["framing"]["length"])
    assert head.keep_alive is want["keep_alive"]
    assert head.expects_continue is want["expects_continue"]
    assert request.head == head
    assert request.body == want["body"].encode("latin-1")
    assert request.raw == case.raw


@pytest.mark.parametrize("case", VALID, ids=str)
def test_valid_request_same_events_in_every_split(case: Case) -> None:
    reference = run([case.raw])
    assert reference[1] is None
    for how, chunks in splits(case.raw, case.name):
        assert b"".join(chunks) == case.raw
        assert run(chunks) == reference, f"{case.name}: differs when fed {how}"


@pytest.mark.parametrize("case", VALID, ids=str)
def test_valid_request_followed_by_pipelined_request(case: Case) -> None:
    alone, _ = run([case.raw])
    data = case.raw + SECOND
    for how, chunks in splits(data, case.name + "+pipelined", every_cut=False):
        events, error = run(chunks)
        assert error is None, f"{case.name}: {error} when fed {how}"
        assert events[:2] == alone, f"{case.name}: first request differs when fed {how}"
        assert len(events) == 4, f"{case.name}: {len(events)} events when fed {how}"
        second_head, second = events[2], events[3]
        assert isinstance(second_head, RequestHead) and isinstance(second, Request)
        assert second_head.target == "/second?pipelined=1"
        assert second_head.get("host") == "pipelined.test"
        assert second.raw == SECOND
        assert second.body == b""


def test_parser_is_reusable_for_many_pipelined_requests() -> None:
    data = b"".join(case.raw for case in VALID)
    for how, chunks in splits(data, "all valid", every_cut=False):
        events, error = run(chunks)
        assert error is None, how
        requests = [event for event in events if isinstance(event, Request)]
        assert [request.raw for request in requests] == [case.raw for case in VALID], how


# --- invalid requests -----------------------------------------------------------------

@pytest.mark.parametrize("case", INVALID, ids=str)
def test_invalid_request_is_rejected_with_its_status(case: Case) -> None:
    events, error = run([case.raw])
    want = case.expect
    assert error is not None, f"{case.name}: accepted, events {events}"
    assert error.status == want["status"], f"{case.name}: {error.status} {error.reason}"
    assert want["reason"].lower() in error.reason.lower()
    assert error.close is want["close"]
    if want["after_head"]:
        assert len(events) == 1 and isinstance(events[0], RequestHead)
    else:
        assert events == []


REFUSED_EARLY = [case for case in INVALID if "refused_after" in case.expect]


@pytest.mark.parametrize("case", REFUSED_EARLY, ids=str)
def test_impossible_request_is_refused_from_its_first_bytes(case: Case) -> None:
    # A TLS handshake, binary, a NUL, a bare CR or a request line that can never be
    # valid is refused from the bytes that show it: waiting for the rest would hold a
    # connection until the header timeout for nothing.
    first = case.raw[:case.expect["refused_after"]]
    events, error = run([first])
    assert error is not None, f"{case.name}: {first!r} still waits for more"
    assert error.status == case.expect["status"], error.reason
    assert case.expect["reason"].lower() in error.reason.lower()
    assert events == []


@pytest.mark.parametrize("case", VALID + INVALID, ids=str)
def test_every_prefix_gets_the_same_verdict_whole_and_byte_by_byte(case: Case) -> None:
    # A stream may stop anywhere (the client waits, or gives up): what the parser has
    # decided by then must depend only on the bytes, never on how they were cut. The
    # request line is judged as it arrives, so its first bytes matter most.
    for length in range(min(len(case.raw), 80) + 1):
        prefix = case.raw[:length]
        whole = describe(*run([prefix]))
        assert describe(*run([bytes([b]) for b in prefix])) == whole, (
            f"{case.name}: the first {length} bytes judged differently byte by byte")


@pytest.mark.parametrize("case", INVALID, ids=str)
def test_invalid_request_same_outcome_in_every_split(case: Case) -> None:
    reference = describe(*run([case.raw]))
    for how, chunks in splits(case.raw, case.name):
        assert describe(*run(chunks)) == reference, f"{case.name}: differs when fed {how}"


@pytest.mark.parametrize("case", INVALID, ids=str)
def test_invalid_request_followed_by_more_data(case: Case) -> None:
    # Whatever follows a broken request must not change the verdict or be parsed.
    reference = describe(*run([case.raw]))
    for how, chunks in splits(case.raw + SECOND, case.name + "+pipelined", every_cut=False):
        assert describe(*run(chunks)) == reference, f"{case.name}: differs when fed {how}"


@pytest.mark.parametrize("case", INVALID, ids=str)
def test_parser_gives_no_events_after_an_error(case: Case) -> None:
    parser = RequestParser()
    parser.feed(case.raw)
    with pytest.raises(HTTPError):
        while parser.next_event() is not NEED_DATA:
            pass
    parser.feed(SECOND)
    with pytest.raises(HTTPError):
        parser.next_event()


# --- generated cases: limits, where the boundary must not depend on the split ---------

SMALL = Limits(max_request_line=64, max_head_bytes=160, max_header_count=4,
               max_body_bytes=20, max_chunk_line=16)


def outcomes(data: bytes, limits: Limits) -> set[object]:
    """The distinct results of every way of splitting ``data``: a set of one if the
    parser does not care how the bytes arrived."""
    results = set()
    for _how, chunks in splits(data, repr(data[:40])):
        events, error = run(chunks, limits)
        results.add((len(events), None if error is None else error.status))
    return results


def request_with_line(length: int) -> bytes:
    line = b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == length
    return line + b"\r\nHost: x\r\n\r\n"


def request_with_head(length: int, *, ending: bytes = b"\r\n") -> bytes:
    start = b"GET / HTTP/1.1" + ending + b"Host: x" + ending + b"X-Pad: "
    end = ending + ending
    return start + b"p" * (length - len(start) - len(end)) + end


@pytest.mark.parametrize("length", range(SMALL.max_request_line - 2, SMALL.max_request_line + 3))
def test_request_line_limit_does_not_depend_on_split(length: int) -> None:
    data = request_with_line(length)
    expected = {(2, None)} if length <= SMALL.max_request_line else {(0, 414)}
    assert outcomes(data, SMALL) == expected


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("length", range(SMALL.max_head_bytes - 3, SMALL.max_head_bytes + 4))
def test_head_size_limit_does_not_depend_on_split(length: int, ending: bytes) -> None:
    # Whatever exact byte count the limit applies to, a head either fits or it does not;
    # how the bytes were cut into packets must not decide.
    results = outcomes(request_with_head(length, ending=ending), SMALL)
    assert len(results) == 1, f"head of {length} bytes: {results}"
    assert results <= {(2, None), (0, 431)}


def test_request_line_at_default_limit() -> None:
    limit = DEFAULT_LIMITS.max_request_line
    assert run([request_with_line(limit)])[1] is None
    events, error = run([request_with_line(limit + 1)])
    assert error is not None and error.status == 414 and events == []


def test_request_line_over_limit_is_rejected_before_its_end_arrives() -> None:
    parser = RequestParser(SMALL)
    parser.feed(b"GET /" + b"a" * SMALL.max_request_line)
    with pytest.raises(HTTPError) as caught:
        parser.next_event()
    assert caught.value.status == 414


def test_head_over_limit_is_rejected_before_its_end_arrives() -> None:
    parser = RequestParser(SMALL)
    parser.feed(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 40)
    with pytest.raises(HTTPError) as caught:
        parser.next_event()
    assert caught.value.status == 431


def test_header_count_limit() -> None:
    def request(count: int) -> bytes:
        fields = b"".join(b"X-%d: v\r\n" % n for n in range(count - 1))
        return b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"

    limit = DEFAULT_LIMITS.max_header_count
    assert run([request(limit)])[1] is None
    events, error = run([request(limit + 1)])
    assert error is not None and error.status == 431 and events == []


@pytest.mark.parametrize("length,status", [(20, None), (21, 413)])
def test_content_length_body_limit(length: int, status: int | None) -> None:
    data = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length + b"b" * length
    events, error = run([data], SMALL)
    assert (None if error is None else error.status) == status


def test_chunked_body_over_limit_is_413_in_every_split() -> None:
    data = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"a\r\n0123456789\r\na\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n")
    assert outcomes(data, SMALL) == {(1, 413)}


def test_chunked_body_at_limit_is_accepted_in_every_split() -> None:
    data = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n")
    assert outcomes(data, SMALL) == {(2, None)}


def test_chunk_size_line_over_limit_is_400_in_every_split() -> None:
    data = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"1;" + b"e" * 40 + b"\r\nx\r\n0\r\n\r\n")
    assert outcomes(data, SMALL) == {(1, 400)}


def test_leading_empty_lines_are_bounded() -> None:
    # RFC 9112 section 2.2 lets a server skip empty lines before a request line, but a
    # client sending nothing else must not make the parser hold ever more bytes.
    parser = RequestParser(SMALL)
    try:
        for _ in range(200):
            parser.feed(b"\r\n" * 50)
            assert parser.next_event() is NEED_DATA
    except HTTPError as error:
        assert error.status in (400, 431)
    else:
        held = len(parser.received)
        assert held <= SMALL.max_head_bytes, f"parser holds {held} bytes of empty lines"


def test_trailer_section_is_bounded() -> None:
    # Trailer fields are header fields after the body (RFC 9112 section 7.1.2); an endless
    # trailer section must hit a limit like an endless head does (431), not grow forever.
    parser = RequestParser(SMALL)
    parser.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")
    assert isinstance(parser.next_event(), RequestHead)
    try:
        for n in range(200):
            parser.feed(b"X-Trailer-%d: value\r\n" % n)
            assert parser.next_event() is NEED_DATA
    except HTTPError as error:
        assert error.status in (400, 431)
    else:
        held = len(parser.received)
        assert held <= 2 * SMALL.max_head_bytes, f"parser holds {held} bytes of trailers"


# --- state the connection loop relies on ----------------------------------------------

def test_has_partial_request_tracks_progress() -> None:
    parser = RequestParser()
    assert not parser.has_partial_request
    parser.feed(b"GET / HTTP/1.1\r\nHo")
    assert parser.next_event() is NEED_DATA
    assert parser.has_partial_request
    assert parser.received == b"GET / HTTP/1.1\r\nHo"
    parser.feed(b"st: x\r\n\r\n")
    assert isinstance(parser.next_event(), RequestHead)
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() is NEED_DATA
    assert not parser.has_partial_request
    assert parser.received == b""


def test_head_event_comes_before_the_body_arrives() -> None:
    # The connection answers "Expect: 100-continue" on the head alone (RFC 9110 10.1.1).
    parser = RequestParser()
    parser.feed(b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    head = parser.next_event()
    assert isinstance(head, RequestHead) and head.expects_continue
    assert parser.head == head
    assert parser.next_event() is NEED_DATA
    parser.feed(b"abc")
    request = parser.next_event()
    assert isinstance(request, Request) and request.body == b"abc"


def test_empty_lines_between_pipelined_requests_belong_to_the_next_request() -> None:
    first = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    second = b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    for how, chunks in splits(first + second, "crlf between"):
        events, error = run(chunks)
        assert error is None, how
        raws = [event.raw for event in events if isinstance(event, Request)]
        assert raws == [first, second], how
