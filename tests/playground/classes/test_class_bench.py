"""bench/class_bench.py (issue 15, point 5) run small: every part it measures is really
there and nothing is lost. A class of two (a henaserver sandbox and a program under
bubblewrap), a few seconds of reloads and a check run each. The figures themselves
(latencies, memory) are the benchmark's to report (docs/benchmarks.md), not asserted
here: this machine is shared and noisy."""

import json
import subprocess
import sys
from pathlib import Path

from testkit.program_api import isolation_or_skip

REPO = Path(__file__).resolve().parents[3]


def test_a_small_class_is_measured_with_nothing_lost(tmp_path):
    isolation_or_skip()  # the program sandbox runs under bwrap as its own uid (root)
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "bench/class_bench.py", "--students", "2", "--seconds", "4",
         "--interval", "1", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    counted = json.loads(out.read_text())
    assert counted["errors"] == [] and counted["board_error"] is None, counted
    assert counted["missing_rows"] == 0 and counted["failed_answers"] == 0, counted
    # Every change reached the teacher's board: two starts and two check runs ended.
    assert counted["board_unseen"] == 0 and counted["board_changes"] == 4, counted
    assert counted["live_rows"]["henaserver"] > 0 and counted["live_rows"]["program"] > 0
    # Each process was told apart (the per-sandbox costs are their sums).
    assert counted["processes"]["henaserver"] == 1, counted
    assert counted["processes"]["relay"] == 1 and counted["processes"]["launcher"] == 1
    assert counted["processes"]["program"] == 1 and counted["processes"]["bwrap"] >= 1
    assert counted["processes"]["other"] == 0, counted
    assert len(counted["run_states"]) == 2 and "running" not in counted["run_states"]
    # The report names every figure docs/benchmarks.md quotes.
    for words in ("daphne RSS", "per sandbox (PSS): henaserver", "live, request sent",
                  "the playground's part", "board (a check run ended", "check runs: 2"):
        assert words in done.stdout, done.stdout
