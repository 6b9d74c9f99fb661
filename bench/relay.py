"""The capture relay's cost (issue 13 point 6): wrk against henaserver directly, and
against the relay in front of the same henaserver, alternating in one run.

    .venv/bin/python bench/relay.py [--rounds 3] [--seconds 5] [--connections 10]

Small keep-alive requests (index.html, 100 bytes). The relay records every exchange to
a file, as the playground would; henaserver's own capture is off in both cases, so the
difference is the relay alone. Reports req/s of each, their ratio, and the p99 the
relay adds (medians over rounds). Targets: >= 5,000 req/s through the relay and at most
1 ms added at p99 (on one core for the relay; wrk takes the other).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from statistics import median

import docroot
import servers
import wrk


@contextlib.contextmanager
def relay(to: servers.Server, events: Path) -> Iterator[servers.Server]:
    args = [sys.executable, "-u", "-m", "henaserver", "relay", "--listen",
            f"{servers.HOST}:0", "--to", f"{servers.HOST}:{to.port}", "--events", str(events)]
    env = {**os.environ, "PYTHONPATH": str(servers.REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, cwd=servers.REPO)
    with servers._reporting(proc, "relay") as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = docroot.build(Path(tmp) / "root")
        results: dict[str, list[wrk.WrkResult]] = {"direct": [], "relay": []}
        with servers.henaserver(root, None, "henaserver") as server, \
                relay(server, Path(tmp) / "events.jsonl") as front:
            for _ in range(args.rounds):
                for name, target in (("direct", server), ("relay", front)):
                    result = wrk.run(target.url(docroot.SMALL), args.connections,
                                     args.seconds)
                    if result.socket_errors or result.non_2xx:
                        raise SystemExit(f"{name}: errors in the run:\n{result.raw}")
                    results[name].append(result)
            exchanges = sum(1 for line in (Path(tmp) / "events.jsonl").open("rb")
                            if b'"type":"exchange"' in line)
    direct_rps = median(r.req_per_s for r in results["direct"])
    relay_rps = median(r.req_per_s for r in results["relay"])
    direct_p99 = median(r.p99_ms or 0.0 for r in results["direct"])
    relay_p99 = median(r.p99_ms or 0.0 for r in results["relay"])
    print(f"direct: {direct_rps:,.0f} req/s, p99 {direct_p99:.2f} ms")
    print(f"relay:  {relay_rps:,.0f} req/s, p99 {relay_p99:.2f} ms")
    print(f"ratio relay/direct: {relay_rps / direct_rps:.2f}; p99 added: "
          f"{relay_p99 - direct_p99:.2f} ms; exchanges recorded by the relay: {exchanges}")
    print(f"targets: >= 5,000 req/s through the relay: "
          f"{'met' if relay_rps >= 5000 else 'MISSED'}; <= 1 ms added at p99: "
          f"{'met' if relay_p99 - direct_p99 <= 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
