"""File lookup cost per request, before and after a change: stat calls and CPU time.

    .venv/bin/python bench/stat_per_request.py --before /path/to/older/checkout

Serves the same docroot with two henaservers (capture off): this checkout ("after")
and the one given with --before, each run from its own folder so it imports its own
code. For each of a file in the root and a file three directories down it reports:

- stat-family system calls per request (``strace -f -c -e trace=%stat,%fstat`` attached
  to the server while it answers REQUESTS requests on one keep-alive connection);
- the server's CPU microseconds per request (user + system time from /proc/PID/stat
  across ``wrk -t1 -c10 -d5s``, divided by the requests wrk completed), median of
  --rounds interleaved rounds, so load from other users of the machine hits both alike;
- the handler alone (``StaticFiles`` called on a parsed request, in a fresh process per
  checkout): the best of 7 timings of 20,000 calls, in microseconds per call. This is
  the part the change touches, without the connection around it, whose cost per request
  moves with the machine's load far more than one system call does.

Needs wrk and strace. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import servers
import wrk

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"/index.html": b"<p>root</p>\n".ljust(100), "/a/b/c/page.css": b"p{}\n"}
REQUESTS = 1000
TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def henaserver(checkout: Path, root: Path, name: str) -> Iterator[servers.Server]:
    """``python -m henaserver`` importing the code of ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "henaserver", "--root", str(root), "--host",
         servers.HOST, "--port", "0", "--quiet"], cwd=checkout, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        port, _ = servers._wait_for_url(proc, name)
        servers._wait_for_accept(port, proc, name)
        yield servers.Server(name, port, proc.pid)
    finally:
        servers._stop(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def stat_calls_per_request(server: servers.Server, target: str, out: Path) -> float:
    tracer = subprocess.Popen(["strace", "-f", "-c", "-e", "trace=%stat,%fstat", "-p",
                               str(server.pid), "-o", str(out)], stderr=subprocess.PIPE,
                              text=True)
    assert tracer.stderr is not None
    if "attached" not in tracer.stderr.readline():
        raise RuntimeError("strace did not attach")
    conn = http.client.HTTPConnection(servers.HOST, server.port, timeout=10)
    for _ in range(REQUESTS):
        conn.request("GET", target)
        conn.getresponse().read()
    conn.close()
    tracer.send_signal(signal.SIGINT)
    tracer.wait(10)
    total = re.search(r"^\S+\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total$", out.read_text(), re.M)
    return int(total[1]) / REQUESTS if total else 0.0


def cpu_us_per_request(server: servers.Server, target: str, seconds: int) -> tuple[float, int]:
    wrk.run(server.url(target), seconds=1)  # warm up
    before = cpu_seconds(server.pid)
    result = wrk.run(server.url(target), seconds=seconds)
    used = cpu_seconds(server.pid) - before
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(f"{server.name}: {result.non_2xx} non-2xx, "
                           f"{result.socket_errors} socket errors")
    return used * 1e6 / result.requests, round(result.req_per_s)


HANDLER_TIMING = """
import sys, timeit
from henaserver.http import Request, parse_head
from henaserver.static import StaticFiles
handler = StaticFiles(sys.argv[1])
request = Request(parse_head(b"GET " + sys.argv[2].encode() + b" HTTP/1.1\\r\\nHost: x"), b"", b"")
assert handler(request).status == 200
print(min(timeit.repeat(lambda: handler(request), number=20000, repeat=7)) / 20000 * 1e6)
"""


def handler_us_per_call(checkout: Path, root: Path, target: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", HANDLER_TIMING, str(root), target], env=env,
                         cwd=checkout, capture_output=True, text=True, check=True, timeout=120)
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="older checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    checkouts = {"before": args.before.resolve(), "after": REPO}
    with tempfile.TemporaryDirectory(prefix="bench-stat-") as tmp:
        root = Path(tmp) / "root"
        for target, body in TARGETS.items():
            (root / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (root / target.lstrip("/")).write_bytes(body)
        stats: dict[tuple[str, str], float] = {}
        cpu: dict[tuple[str, str], list[float]] = {key: [] for key in
                                                   ((v, t) for v in checkouts for t in TARGETS)}
        rps: dict[tuple[str, str], list[int]] = {key: [] for key in cpu}
        handler: dict[tuple[str, str], list[float]] = {key: [] for key in cpu}
        for round_number in range(args.rounds):
            order = list(checkouts) if round_number % 2 == 0 else list(checkouts)[::-1]
            for version in order:
                for target in TARGETS:
                    handler[version, target].append(
                        handler_us_per_call(checkouts[version], root, target))
                with henaserver(checkouts[version], root, version) as server:
                    for target in TARGETS:
                        if round_number == 0:
                            stats[version, target] = stat_calls_per_request(
                                server, target, Path(tmp) / "strace.txt")
                        us, per_s = cpu_us_per_request(server, target, args.seconds)
                        cpu[version, target].append(us)
                        rps[version, target].append(per_s)
                        print(f"round {round_number + 1} {version:6} {target:16} "
                              f"{us:6.1f} us/request {per_s:7,} req/s", flush=True)
    print("\n| file | version | stat calls / request | server CPU µs / request, wrk "
          "(median) | rounds | req/s (median) | handler µs / call (median) | rounds |\n"
          "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |")
    for target in TARGETS:
        for version in checkouts:
            key = version, target
            print(f"| `{target}` | {version} | {stats[key]:.2f} | "
                  f"{statistics.median(cpu[key]):.1f} | {' / '.join(f'{v:.1f}' for v in cpu[key])}"
                  f" | {statistics.median(rps[key]):,.0f} | {statistics.median(handler[key]):.2f}"
                  f" | {' / '.join(f'{v:.2f}' for v in handler[key])} |")


if __name__ == "__main__":
    main()
