"""The server's traffic filter (traffic/filters.py) against the one table of cases that
the page's filters.js follows too (tests/data/filters.json; the browser side is checked
in tests/e2e/test_runs_e2e.py), so an export of "the filtered list" holds exactly the
rows the page shows."""

import json
from pathlib import Path

from playground.traffic import filters

TABLE = json.loads((Path(__file__).resolve().parents[2] / "data" / "filters.json")
                   .read_text("utf-8"))


def test_every_case_of_the_shared_table():
    for case in TABLE["cases"]:
        wanted = filters.parse(case["text"])
        got = {name: filters.matches(item, wanted) for name, item in TABLE["items"].items()}
        assert got == case["passes"], case["text"]


def test_the_table_covers_runs():
    """run:N is in the table, with lists, combinations and malformed values (the cases
    that fail on a grammar without it)."""
    texts = [case["text"] for case in TABLE["cases"]]
    assert {"run:3", "run:1,3", "run:3 method:GET", "run:x", "run:"} <= set(texts)


def test_nothing_to_filter_is_none():
    assert filters.parse("   ") is None
    assert filters.parse("run:2") is not None
