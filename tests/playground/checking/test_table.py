"""docs/checks.md's table of henaserver's modes and the starters, asserted row by row
against real runs: henaserver as a subprocess in each mode, each starter run with the
learner's Python, the whole engine over real sockets (the rows run in parallel)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from testkit.checked import Servers

from playground.checking import engine
from playground.compose import presets
from playground.sandboxes import modes, starters

DOC = Path(__file__).resolve().parents[3] / "docs" / "checks.md"
STAGE_COUNT = len(engine.STAGES)


def _table() -> dict[str, tuple[list[bool], int]]:
    """{row name: ([passed per stage], reached)} from the markdown."""
    text = DOC.read_text("utf-8")
    body = text.split("<!-- the table: test_table.py reads it -->", 1)[1]
    rows: dict[str, tuple[list[bool], int]] = {}
    for line in body.strip().splitlines():
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("server", "---"):
            assert cells[0] != "server" or cells[1:] == [
                *map(str, range(1, STAGE_COUNT + 1)), "reached"], "the table's columns"
            continue
        assert all(c in "✓✗" for c in cells[1:-1]), line
        rows[cells[0]] = ([c == "✓" for c in cells[1:-1]], int(cells[-1]))
    return rows


TABLE = _table()
ROWS = list(TABLE)


def _start(servers: Servers, row: str) -> engine.Target:
    kind, name = row.split(" ", 1)
    if kind == "henaserver":
        fixed = modes.to_bytes(presets.IT_WORKS) if name == "fixed" else None
        return servers.henaserver(name, fixed=fixed)
    return servers.starter(name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every row's outcomes, run four at a time."""
    servers = Servers(tmp_path_factory.mktemp("table"))

    def run(row: str) -> tuple[engine.Target, list[engine.Outcome]]:
        target = _start(servers, row)
        return target, engine.run(target)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            yield dict(zip(ROWS, pool.map(run, ROWS), strict=True))
    finally:
        servers.close()


def test_the_table_has_every_mode_and_every_starter():
    assert ROWS == [f"henaserver {m}" for m in ("full", "record-only", "once",
                                                  "no-content-type", "fixed")] + [
        f"starter {s.id}" for s in starters.all()]


def test_the_table_says_what_the_issue_asks():
    def first_failed(row: str) -> int:
        return TABLE[row][0].index(False) + 1 if False in TABLE[row][0] else 0
    assert TABLE["henaserver full"] == ([True] * STAGE_COUNT, STAGE_COUNT)
    assert first_failed("henaserver record-only") == 2
    assert first_failed("henaserver once") == 4
    assert first_failed("henaserver no-content-type") == 6
    assert TABLE["henaserver no-content-type"][0][6:] == [True] * (STAGE_COUNT - 6)
    assert first_failed("henaserver fixed") == 5
    # Each starter reaches the stage its step teaches (docs/starters.md).
    taught = {"save-request": 1, "saved-response": 4, "once": 3, "loop": 4, "static": 6,
              "threads": 4, "henaserver": STAGE_COUNT}
    assert {s: TABLE[f"starter {s}"][1] for s in taught} == taught


@pytest.mark.parametrize("row", ROWS)
def test_row(runs, row):
    target, outcomes = runs[row]
    passed = []
    for stage in engine.STAGES:
        mine = [o for o in outcomes if o.stage == stage.number]
        assert len(mine) == len(stage.checks), f"stage {stage.number} did not run whole"
        passed.append(bool(mine) and all(o.passed for o in mine))
    failures = {o.label: str(o.failure.message) for o in outcomes if o.failure}
    assert (passed, engine.reached(outcomes)) == TABLE[row], failures
    # Nothing of the run is left in the folder.
    assert not list(Path(target.docroot).glob("chk-*"))
