"""CPU microseconds per response of henaserver, capture on and off, for one or more
source trees, interleaved: the figure to compare a change by on a shared machine.

    .venv/bin/python bench/cpu_per_request.py                        # this tree
    .venv/bin/python bench/cpu_per_request.py --tree before=/tmp/old --rounds 6

Why this and not a profile or req/s: on these 2-core VMs shared with other engineers,
req/s moves by 2x between rounds and py-spy puts most samples on system-call lines
(NOTES.md). The CPU time the server process used (user + system, every thread, from
/proc/PID/stat) divided by the responses wrk read moves by a few percent. Each round
runs ``wrk -t1 -c10 -ds`` against every server in turn, starting from a different one.
A tree is a checkout's root (``git worktree add /tmp/old COMMIT``); its henaserver is
run with PYTHONPATH pointing at it.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import docroot
import servers
import wrk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                        help="another source tree to measure (default: only this one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    trees = {"this": servers.REPO, **{name: Path(path).resolve() for name, path in
                                      (spec.split("=", 1) for spec in args.tree)}}
    with tempfile.TemporaryDirectory(prefix="henacpu-") as tmp:
        root = docroot.build(Path(tmp) / "root")
        started: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for tree_name, tree in trees.items():
                for capture in ("on", "off"):
                    cmd = [sys.executable, "-u", "-m", "henaserver", "--root", str(root),
                           "--port", "0", "--quiet"]
                    if capture == "on":
                        cmd += ["--events", f"{tmp}/{tree_name}.jsonl"]
                    proc = subprocess.Popen(cmd, cwd=tree, env={"PYTHONPATH": str(tree)},
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                    started[f"{tree_name}, capture {capture}"] = (
                        proc, int(re.search(rb":(\d+)/", proc.stdout.readline())[1]))
            used: dict[str, list[float]] = {name: [] for name in started}
            names = list(started)
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    proc, port = started[name]
                    before = servers.cpu_seconds(proc.pid)
                    result = wrk.run(f"http://{servers.HOST}:{port}{docroot.SMALL}", 10,
                                     args.seconds)
                    used[name].append((servers.cpu_seconds(proc.pid) - before)
                                      / result.requests * 1e6)
        finally:
            for proc, _port in started.values():
                servers._stop(proc)
    print(f"CPU µs per response, wrk -t1 -c10 -d{args.seconds}s {docroot.SMALL}, "
          f"{args.rounds} interleaved rounds:")
    print("| server | median | rounds |\n| --- | ---: | --- |")
    for name, each in used.items():
        print(f"| {name} | {statistics.median(each):.1f} | "
              f"{' / '.join(f'{x:.1f}' for x in each)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
