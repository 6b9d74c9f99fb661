"""How a rule's response is cut into timed pieces (henaserver/paced.py): pure, no socket."""

from __future__ import annotations

import pytest

from henaserver.modes import parse_rules
from henaserver.paced import MAX_PIECES, Alarms, pace_of, paced

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"


def test_whole_with_a_delay_is_one_piece_after_the_delay() -> None:
    raw = HEAD + b"Content-Length: 2\r\n\r\nhi"
    plan = paced(raw, "whole", 1500, 0)
    assert [(p.wait, p.data) for p in plan.pieces] == [(1.5, raw)]
    assert plan.framed


def test_drip_sends_the_head_then_the_body_a_line_at_a_time() -> None:
    raw = HEAD + b"\r\none\ntwo\nthree"
    plan = paced(raw, "drip", 0, 200)
    assert [p.data for p in plan.pieces] == [HEAD + b"\r\n", b"one\n", b"two\n", b"three"]
    assert [p.wait for p in plan.pieces] == [0, 0.2, 0.2, 0.2]
    assert not plan.framed  # no Content-Length: the body ends when the server closes
    assert b"".join(p.data for p in plan.pieces) == raw  # exactly the bytes written


def test_chunked_frames_each_line_and_moves_the_trailer_fields_after_the_body() -> None:
    raw = (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTrailer: Server-Timing\r\n"
           b"Server-Timing: total;dur=42\r\n\r\nHello, \nworld!\n")
    plan = paced(raw, "chunked", 0, 100)
    assert [p.data for p in plan.pieces] == [
        b"HTTP/1.1 200 OK\r\nTrailer: Server-Timing\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"8\r\nHello, \n\r\n", b"7\r\nworld!\n\r\n",
        b"0\r\nServer-Timing: total;dur=42\r\n\r\n"]
    assert plan.framed  # chunked framing ends itself: the connection may be kept


def test_events_go_one_server_sent_event_at_a_time() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
    raw = head + b"data: one\n\nevent: tick\ndata: two\n\ndata: three\n\n"
    plan = paced(raw, "events", 0, 1000)
    assert [p.data for p in plan.pieces] == [
        head, b"data: one\n\n", b"event: tick\ndata: two\n\n", b"data: three\n\n"]


@pytest.mark.parametrize(("entry", "words"), [
    ({"send": "slowly"}, "send must be one of whole, drip, chunked, events"),
    ({"delay_ms": 60_000}, "delay_ms must be a whole number from 0 to 20000"),
    ({"every_ms": -1}, "every_ms must be a whole number from 0 to 5000"),
    ({"every_ms": "100"}, "every_ms must be a whole number"),
    ({"every_ms": True}, "every_ms must be a whole number"),
])
def test_a_wrong_pace_is_refused_with_its_reason(entry: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        pace_of(entry, 1)


def test_a_stream_longer_than_the_bounds_is_refused() -> None:
    many = HEAD + b"\r\n" + b"x\n" * MAX_PIECES
    with pytest.raises(ValueError, match="pieces"):
        paced(many, "drip", 0, 0)
    with pytest.raises(ValueError, match="at most"):
        paced(HEAD + b"\r\n" + b"x\n" * 100, "drip", 0, 5000)  # 500 s


def test_the_rules_file_carries_the_pace_and_refuses_a_wrong_one() -> None:
    rules = parse_rules(b'{"rules": [{"path": "/s", "response": "HTTP/1.1 200 OK\\r\\n\\r\\na\\n",'
                        b' "send": "drip", "every_ms": 10}, {"path": "/n", "response": "x"}]}')
    assert rules[0].plan is not None and len(rules[0].plan.pieces) == 2
    assert rules[1].plan is None  # sent at once, as before
    with pytest.raises(ValueError, match="send must be"):
        parse_rules(b'{"rules": [{"response": "x", "send": "later"}]}')


class Conn:
    def __init__(self, id: int) -> None:
        self.id = id


def test_alarms_wake_each_connection_once_at_its_soonest_time() -> None:
    alarms, a, b = Alarms(), Conn(1), Conn(2)
    assert alarms.timeout(0.5, 100.0) == 0.5  # nothing waits: the loop's own tick
    alarms.set(a, 100.3)
    alarms.set(a, 100.2)  # sooner: replaces the later one
    alarms.set(a, 100.4)  # later than the one armed: that one wakes it first
    alarms.set(b, 101.0)
    assert alarms.timeout(0.5, 100.0) == pytest.approx(0.2)
    assert alarms.due(100.1) == []
    assert alarms.due(100.5) == [a]
    assert alarms.due(100.9) == []
    assert alarms.due(101.0) == [b]
