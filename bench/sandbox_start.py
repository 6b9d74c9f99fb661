"""How long a sandbox takes from "Start" to listening, through the playground's own
Supervisor (the same code path as the Start button, minus the HTTP request).

    .venv/bin/python bench/sandbox_start.py            # 20 starts
    .venv/bin/python bench/sandbox_start.py --runs 50

Each run: Supervisor.start() spawns `python -u -m henaserver ... --events-fd N`
and returns when the child's `server.listening` event arrives; then the child is
stopped (stdin EOF) before the next run. Prints the median, min, p90 and max in ms.
Target (issue #2): median <= 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playground.sandboxes.supervisor import Supervisor  # noqa: E402

TARGET_MS = 300.0


def measure(runs: int) -> list[float]:
    timings = []
    with tempfile.TemporaryDirectory() as root:
        Path(root, "index.html").write_text("<h1>bench</h1>")
        sup = Supervisor(cwd=str(REPO))
        try:
            for _ in range(runs):
                began = time.perf_counter()
                sup.start("bench", root=root, host="127.0.0.1", port=0)
                timings.append((time.perf_counter() - began) * 1000)
                sup.stop("bench")
        finally:
            sup.stop_all()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    timings = measure(args.runs)
    ordered = sorted(timings)
    median = statistics.median(timings)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    print(f"sandbox start to listening, {args.runs} runs on {os.cpu_count()} CPUs: "
          f"median {median:.0f} ms, min {ordered[0]:.0f} ms, p90 {p90:.0f} ms, "
          f"max {ordered[-1]:.0f} ms (target <= {TARGET_MS:.0f} ms: "
          f"{'met' if median <= TARGET_MS else 'NOT met'})")
    return 0 if median <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
