"""A rule's pace through the playground (sandboxes/pacing.py): checked on save with the
same bounds as henaserver's paced.py, written to rules.json, and the growing response's
``exchange.progress`` kept live on the waiting board (traffic/waiting.py)."""

from __future__ import annotations

import base64
import json

import pytest

from henaserver import paced
from playground.sandboxes import modes, pacing
from playground.traffic.messages import PROGRESS_PREVIEW, waiting_item
from playground.traffic.waiting import WaitingBoard

HEAD = "HTTP/1.1 200 OK\nContent-Type: text/plain\n\n"


def test_the_bounds_are_henaservers() -> None:
    assert (pacing.SENDS, pacing.MAX_DELAY_MS, pacing.MAX_EVERY_MS, pacing.MAX_TOTAL_MS,
            pacing.MAX_PIECES) == (paced.SENDS, paced.MAX_DELAY_MS, paced.MAX_EVERY_MS,
                                   paced.MAX_TOTAL_MS, paced.MAX_PIECES)


@pytest.mark.parametrize("send", paced.SENDS)
@pytest.mark.parametrize("body", ["", "one\n", "a\nb\nc", "data: 1\n\ndata: 2\n\n",
                                  "x\r\n\r\ny", "no head at all"])
def test_the_pieces_counted_are_henaservers(send: str, body: str) -> None:
    raw = modes.to_bytes(HEAD + body) if body != "no head at all" else body.encode()
    assert pacing.count_pieces(raw, send) == len(paced.paced(raw, send, 0, 0).pieces)


@pytest.mark.django_db
def test_a_rule_keeps_its_pace_and_the_rules_file_carries_it(settings, tmp_path) -> None:
    rows = [dict(rule) for rule in pacing.STREAM_PRESETS["streams"]["rules"]]
    rules = modes.parse_rules({"rules": rows, "line_endings": "crlf"})
    assert [(r["path"], r.get("send"), r.get("every_ms")) for r in rules] == [
        ("/slow", "whole", 0), ("/drip", "drip", 700), ("/chunked", "chunked", 700),
        ("/events", "events", 1000)]
    plain = modes.parse_rules({"rules": [{"path": "/", "response": HEAD, "send": "whole"}]})
    assert "send" not in plain[0]  # at once: stored as before
    # What henaserver reads accepts every preset (its own parser, its own bounds).
    from henaserver.modes import parse_rules as henaserver_rules
    written = [{"method": r["method"], "path": r["path"], "response_b64": r["response_b64"],
                **{k: r[k] for k in ("send", "delay_ms", "every_ms") if k in r}}
               for r in rules]
    plans = [rule.plan for rule in henaserver_rules(json.dumps({"rules": written}).encode())]
    assert all(plan is not None for plan in plans)


@pytest.mark.parametrize(("row", "words"), [
    ({"send": "slowly"}, "send must be one of"),
    ({"send": "drip", "delay_ms": 20_001}, "delay_ms must be a whole number"),
    ({"send": "drip", "every_ms": "soon"}, "every_ms must be a whole number"),
    ({"send": "drip", "every_ms": "\u00b2"}, "every_ms must be a whole number"),  # was a 500
    ({"send": "drip", "every_ms": 5000, "response": HEAD + "x\n" * 30}, "the limit is"),
])
def test_a_wrong_pace_is_refused_with_its_reason(row: dict[str, object], words: str) -> None:
    with pytest.raises(pacing.Refusal) as refused:
        modes.parse_rules({"rules": [{"path": "/s", "response": HEAD + "a\n", **row}]})
    assert words in str(refused.value) and refused.value.status == 400


def progress(offset: int, data: bytes, sent: int) -> dict[str, object]:
    return waiting_item({"type": "exchange.progress", "conn": 1, "index": 0,
                         "method": "GET", "target": "/drip", "since": 5, "sent": sent,
                         "offset": offset, "data_b64": base64.b64encode(data).decode()})


def test_the_board_keeps_the_response_so_far_for_a_viewer_arriving_mid_stream() -> None:
    board = WaitingBoard()
    board.settle(7, [], [progress(0, b"", 0), progress(0, b"HEAD\r\n\r\n", 8)])
    board.settle(7, [], [progress(8, b"one\n", 12)])
    [row] = board.now(7)
    assert (row["sent"], row["offset"]) == (12, 0)
    assert base64.b64decode(row["data_b64"]) == b"HEAD\r\n\r\none\n"
    ended = board.settle(7, [{"conn": 1, "index": 0}], [])
    assert ended == [{"conn": 1, "index": 0}] and board.now(7) == []


def test_progress_bytes_are_bounded() -> None:
    item = progress(PROGRESS_PREVIEW - 3, b"x" * 100, PROGRESS_PREVIEW + 97)
    assert base64.b64decode(item["data_b64"]) == b"xxx"
    assert progress(PROGRESS_PREVIEW, b"y", 1)["data_b64"] == ""
    assert waiting_item({"type": "exchange.progress", "data_b64": "not base64!"})[
        "data_b64"] == ""
