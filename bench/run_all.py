"""Benchmark henaserver against nginx, http.server and uvicorn, interleaved, in one run.

    make bench                       # or: .venv/bin/python bench/run_all.py

Starts every server on a free loopback port over one temp docroot, warms each up,
then runs wrk rounds interleaved (each round visits every server, starting from a
different one), so background load on this shared 2-core machine hits all servers
alike. Prints medians and the ratios against the issue's targets, and writes the
same markdown to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import connections
import docroot
import events_check
import reference
import report
import servers
import wrk

RESULTS = Path(__file__).resolve().parent / "results"
# wrk -t1 -c10: ten keep-alive connections, one client thread (the other core).
CONNECTIONS = 10
WARMUP_SECONDS = 1


def _environment(reference_too: bool) -> list[str]:
    def out(cmd: list[str], any_status: bool = False) -> str:
        """First line of a command's output ("nginx -v" writes to stderr; "wrk --version"
        exits 1); "" on failure."""
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        lines = (p.stdout or p.stderr).strip().splitlines()
        return lines[0] if lines and (any_status or p.returncode == 0) else ""

    commit = out(["git", "-C", str(servers.REPO), "log", "-1", "--format=%h", "--", "."])
    dirty = out(["git", "-C", str(servers.REPO), "status", "--porcelain", "henaserver"])
    return [
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {os.cpu_count()} CPUs shared by servers and wrk, "
        f"{platform.machine()}, Linux {platform.release()}",
        f"load average at start: {os.getloadavg()[0]:.2f}",
        f"Python {platform.python_version()} ({sys.executable})",
        f"{out(['nginx', '-v'])}; {out([wrk.WRK, '--version'], any_status=True)}",
        f"reference: {reference.versions() if reference_too else 'not run'} "
        "(bench/.venv-ref)",
        f"henaserver: git {commit or 'no commits yet'}"
        + (" + uncommitted changes" if dirty else ""),
    ]


def _check_serves(server: servers.Server, path: str, size: int) -> None:
    """One GET before any load: a server answering 403 or a short body would make
    every number after it meaningless (wrk only counts non-2xx, it still times them)."""
    conn = http.client.HTTPConnection(servers.HOST, server.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200 or len(body) != size:
        raise RuntimeError(f"{server.name} answered {resp.status} with {len(body)} bytes "
                           f"for {path}, expected 200 with {size}")


def _interleaved(names: list[str], rounds: int) -> list[list[str]]:
    """Round r starts at server r, so no server always runs first or last."""
    return [names[r % len(names):] + names[:r % len(names)] for r in range(rounds)]


def _raise_sigterm_as_interrupt() -> None:
    # `kill PID` should clean up like Ctrl+C: stop every server we started.
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--connections", type=int, default=1000,
                        help="keep-alive connections for the memory test (0 skips it)")
    parser.add_argument("--no-big", action="store_true", help="skip the 10 MiB file")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the uvicorn + httptools app (no bench/.venv-ref)")
    parser.add_argument("--default-idle-timeout", action="store_true",
                        help="memory test: keep henaserver's own idle timeout")
    args = parser.parse_args()
    _raise_sigterm_as_interrupt()
    connections.raise_nofile_limit()

    run = report.Run(environment=_environment(not args.no_reference))
    has_henaserver = (servers.REPO / "henaserver" / "__main__.py").exists()
    if not has_henaserver:
        run.notes.append("henaserver/__main__.py not found: henaserver was not measured")
    raw_log: list[str] = []
    commands: list[str] = []

    with tempfile.TemporaryDirectory(prefix="henabench-") as tmp_name, \
            contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # nginx's worker runs as nobody and must reach the docroot
        root = docroot.build(tmp / "root")
        events_path = tmp / "events.jsonl"
        started: dict[str, servers.Server] = {}
        started[report.NGINX] = stack.enter_context(servers.nginx(root, tmp / "nginx"))
        if has_henaserver:
            started[report.OFF] = stack.enter_context(servers.henaserver(root, None, report.OFF))
            on_stack = contextlib.ExitStack()
            stack.enter_context(on_stack)
            started[report.ON] = on_stack.enter_context(
                servers.henaserver(root, events_path, report.ON))
        started[report.HTTP_SERVER] = stack.enter_context(servers.http_server(root))
        if not args.no_reference:
            started[report.UVICORN] = stack.enter_context(
                servers.uvicorn_app(root, report.UVICORN))

        def load(name: str, path: str, seconds: int, cpu: bool = False) -> wrk.WrkResult:
            url = started[name].url(path)
            before = servers.cpu_seconds(started[name].pid)
            result = wrk.run(url, CONNECTIONS, seconds)
            if cpu and result.requests:
                used = servers.cpu_seconds(started[name].pid) - before
                run.cpu_us.setdefault(name, []).append(used / result.requests * 1e6)
            raw_log.append(f"$ {' '.join(wrk.command(url, CONNECTIONS, seconds))}"
                           f"   # {name}\n{result.raw}")
            if name == report.ON:
                run.client_responses_on += result.requests
            return result

        big_names = [n for n in (report.NGINX, report.OFF, report.ON) if n in started]
        for server in started.values():
            _check_serves(server, docroot.SMALL, (root / "index.html").stat().st_size)
        for name in big_names:
            _check_serves(started[name], docroot.BIG, docroot.BIG_SIZE)
        if report.ON in started:
            run.client_responses_on += 2  # the two checks above
        print("warming up ...", flush=True)
        for name in started:
            load(name, docroot.SMALL, WARMUP_SECONDS)
        if not args.no_big:
            for name in big_names:
                load(name, docroot.BIG, WARMUP_SECONDS)

        def show(name: str, path: str) -> str:
            return " ".join(wrk.command(started[name].url(path), CONNECTIONS, args.seconds)) \
                + f"   # {name}"

        commands += [show(name, docroot.SMALL) for name in started]
        for r, order in enumerate(_interleaved(list(started), args.rounds), 1):
            for name in order:
                # nginx serves from a worker process (its child): no CPU figure for it.
                res = load(name, docroot.SMALL, args.seconds, cpu=name != report.NGINX)
                run.small.setdefault(name, []).append(res)
                print(f"round {r} small  {name:28} {res.req_per_s:>10,.0f} req/s", flush=True)
        if not args.no_big:
            commands += [show(name, docroot.BIG) for name in big_names]
            for r, order in enumerate(_interleaved(big_names, args.rounds), 1):
                for name in order:
                    res = load(name, docroot.BIG, args.seconds)
                    run.big.setdefault(name, []).append(res)
                    print(f"round {r} 10MiB  {name:28} {res.mib_per_s:>10,.0f} MiB/s",
                          flush=True)

        if has_henaserver:
            # Stop the capture-on server first: its last server.stats and
            # server.stopping are written on shutdown.
            on_stack.close()
            run.events = events_check.summarise(events_path)
            runs = len(run.small.get(report.ON, [])) + len(run.big.get(report.ON, [])) + 2
            run.events_verdict = run.events.verdict(run.client_responses_on, CONNECTIONS * runs)

    if has_henaserver and args.connections:
        # A fresh capture-on server, so the RSS baseline is not the leftovers of the
        # throughput rounds.
        print(f"holding {args.connections} connections ...", flush=True)
        run.conns = connections.measure_fresh(args.connections, args.seconds,
                                              keep_default_idle_timeout=args.default_idle_timeout)

    run.environment.append(f"load average at end: {os.getloadavg()[0]:.2f}")
    text = report.markdown(run, commands)
    print()
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / f"run-{stamp}.md").write_text(text)
    (RESULTS / f"run-{stamp}-wrk.txt").write_text("\n".join(raw_log))
    print(f"written: {RESULTS / 'latest.md'} (raw wrk output: run-{stamp}-wrk.txt)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        sys.exit(130)
