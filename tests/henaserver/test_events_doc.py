"""docs/events.md is the contract with the playground: the serializer must write exactly
the keys it documents, for every event type, and every event type must be documented.

The document is read as a learner reads it: each ``## `type` `` section, the first
``| key | ... |`` table in it, and the tables of closed sets of values.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from henaserver import capture
from henaserver.__main__ import BIND_ERRORS
from henaserver.capture import Times, serialize
from henaserver.server import STOP_REASONS

EVENTS_MD = Path(__file__).resolve().parents[2] / "docs" / "events.md"
COMMON_KEYS = {"v", "type", "time"}
SECTION = re.compile(r"^## `([a-z_.]+)`$", re.M)


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in ``text``: its rows (header first), cells stripped."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= {"-", " "} for cell in cells):  # not the --- row
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def code(cell: str) -> str:
    """The text of a `code` cell."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"expected a `code` cell, got {cell!r}"
    return match[1]


def sections() -> dict[str, str]:
    """Event type -> its section of the document."""
    text = EVENTS_MD.read_text("utf-8")
    heads = list(SECTION.finditer(text))
    return {head[1]: text[head.end():nxt.start() if nxt else len(text)]
            for head, nxt in zip(heads, [*heads[1:], None], strict=True)}


def table_after(section: str, first_header: str) -> list[list[str]]:
    """The rows (without the header) of the first table whose first header is given."""
    for table in tables(section):
        if table[0][0] == first_header:
            return table[1:]
    raise AssertionError(f"no table starting with | {first_header} |")


def documented_keys(event_type: str) -> set[str]:
    return {code(row[0]) for row in table_after(sections()[event_type], "key")}


def example(kind: type[capture.Event]) -> capture.Event:
    """An event of this type with a value of the right type in every field."""
    samples: dict[object, Any] = {int: 7, int | None: None, str: "x", str | None: "x",
                                  bool: True, bytes: b"\x00\xff", Times: Times()}
    hints = typing.get_type_hints(kind)
    return kind(**{name: samples[hints[name]] for name in kind._fields if name != "type"})


EVENT_TYPES = typing.get_args(capture.Event)


def test_every_event_type_the_code_defines_is_documented() -> None:
    defined = {kind._field_defaults["type"] for kind in EVENT_TYPES}
    assert defined == set(sections())


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda kind: kind._field_defaults["type"])
def test_serializer_writes_exactly_the_documented_keys(kind: type[capture.Event]) -> None:
    line = serialize(example(kind), 1764478200.5)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    event = json.loads(line)
    assert event["type"] == kind._field_defaults["type"]
    assert set(event) == COMMON_KEYS | documented_keys(event["type"])


def test_common_keys_are_documented() -> None:
    text = EVENTS_MD.read_text("utf-8")
    common = text[text.index("Every event has these keys"):SECTION.search(text).start()]
    assert {code(row[0]) for row in table_after(common, "key")} == COMMON_KEYS


def test_exchange_times_are_the_documented_keys() -> None:
    rows = [table for table in tables(sections()["exchange"]) if table[0] == ["key", "when"]]
    assert len(rows) == 1, "the exchange section has one | key | when | table"
    times = {code(row[0]) for row in rows[0][1:]}
    event = json.loads(serialize(example(capture.Exchange), 1.0))
    assert set(event["times"]) == times


def test_stopping_reasons_are_the_documented_closed_set() -> None:
    reasons = [code(row[0]) for row in table_after(sections()["server.stopping"], "reason")]
    assert sorted(reasons) == sorted(STOP_REASONS)


def test_start_failed_reasons_are_the_documented_closed_set() -> None:
    reasons = [code(row[0])
               for row in table_after(sections()["server.start_failed"], "reason")]
    assert sorted(reasons) == sorted([reason for reason, _ in BIND_ERRORS.values()]
                                     + ["other"])


@pytest.mark.parametrize("change", [
    {},
    {"method": None, "target": None, "version": None, "status": None, "reason": "bad \"x\"\n"},
    {"client": "[::1]:80", "target": "/caf\u00e9?q=\u2603&x=\"\\", "outcome": "timed_out",
     "request_truncated": False, "response_truncated": True, "request": b"",
     "response": bytes(range(256)) * 3},
    {"times": Times(1.0, None, None, None, None, None), "number": 0, "status": 0},
    {"times": Times(1796033665.1968625, 1796033665.1969, 1796033665.197, 1796033665.1971,
                    1796033665.1972, 1796033665.19720449)},
])
def test_the_exchange_line_written_by_hand_is_the_templates(change: dict[str, Any]) -> None:
    # The exchange's line is written out by hand for speed; the template derived from
    # the type (what the rest of this file checks against the document) is its spec.
    event = example(capture.Exchange)._replace(**change)
    for when in (1796033665.123456, 0.1, 1e-07):
        line = serialize(event, when)
        assert line == capture.from_template(event, when)
        assert json.loads(line)["type"] == "exchange"
