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


@contextlib.contextmanager
def forwarded(tmp: Path) -> Iterator[tuple[servers.Server, int | None]]:
    """henaserver run as a learner's program: under bubblewrap as its own uid, behind
    the launcher's forwarder (a Unix socket into its network namespace) and the relay,
    all started by the playground's own ``Supervisor.start_program`` (A's launcher).
    Yields the relay's address and the launcher's pid (None if not found)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    import django
    django.setup()
    from playground.sandboxes import programs
    from playground.sandboxes.supervisor import Supervisor

    why = programs.isolation_missing("bwrap")
    if why is not None:
        raise SystemExit(f"--forwarder needs bubblewrap as root: {why}")
    tmp.chmod(0o755)  # the sandbox's uid must reach its folder (mkdtemp makes it 0700)
    files, run = tmp / "program", tmp / "run"
    files.mkdir()
    run.mkdir()
    docroot.build(files / "site")
    (files / "main.py").write_text(
        "import runpy, sys\n"
        "port, host = sys.argv[1], sys.argv[2]\n"
        "sys.argv = ['henaserver', '--host', host, '--port', port, '--root', 'site',"
        " '--quiet']\n"
        "runpy.run_module('henaserver', run_name='__main__', alter_sys=True)\n")
    port = servers.free_port()
    spec = programs.ProgramSpec(
        files=str(files), run_dir=str(run), main_file="main.py", host=servers.HOST,
        port=port, uid=200_999, with_henaserver=True,
        limits=programs.ProgramLimits(cpu_seconds=3600))
    counted = [0]

    def on_event(key: str, event: dict, tag: str = "") -> None:
        counted[0] += event.get("type") == "exchange"  # the playground's reader's place

    sup = Supervisor(on_event=on_event, start_timeout=30)
    child = sup.start_program("bench", spec)
    # The launcher (the forwarder) inside bwrap: not bwrap itself, whose command line
    # names launcher.py too.
    launcher = next((pid for pid in _pids() if "launcher.py --status-fd" in _cmdline(pid)
                     and _uid(pid) == spec.uid
                     and not _cmdline(pid).split(" ")[0].endswith("bwrap")), None)
    try:
        yield servers.Server("forwarder", port, child.pid), launcher
    finally:
        sup.stop("bench")


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _uid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cpu(pid: int | None) -> float:
    try:
        return servers.cpu_seconds(pid) if pid else 0.0
    except OSError:
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--forwarder", action="store_true",
                        help="also through the launcher's forwarder into bwrap (root)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = docroot.build(Path(tmp) / "root")
        server = stack.enter_context(servers.henaserver(root, None, "henaserver"))
        front = stack.enter_context(relay(server, Path(tmp) / "events.jsonl"))
        targets = [("direct", server, server.pid), ("relay", front, front.pid)]
        if args.forwarder:
            program, launcher = stack.enter_context(forwarded(Path(tmp)))
            targets.append(("forwarder", program, launcher))
        results: dict[str, list[wrk.WrkResult]] = {name: [] for name, _, _ in targets}
        # CPU seconds of the process each line adds (henaserver itself for "direct";
        # the relay; the launcher's forwarder), per request wrk counted.
        cpu_us: dict[str, list[float]] = {name: [] for name, _, _ in targets}
        # The latency a learner's browser meets: one connection, one request at a time
        # (at saturation, p99 is the queue of a CPU-bound process, not the relay's
        # added hop). Then the throughput rounds.
        alone: dict[str, list[float]] = {name: [] for name, _, _ in targets}
        for _ in range(args.rounds):
            for name, target, _pid in targets:
                result = wrk.run(target.url(docroot.SMALL), 1, args.seconds)
                alone[name].append(result.p99_ms or 0.0)
        for _ in range(args.rounds):
            for name, target, pid in targets:
                before = cpu(pid)
                result = wrk.run(target.url(docroot.SMALL), args.connections, args.seconds)
                if result.socket_errors or result.non_2xx:
                    raise SystemExit(f"{name}: errors in the run:\n{result.raw}")
                results[name].append(result)
                cpu_us[name].append((cpu(pid) - before) * 1e6 / max(1, result.requests))
        exchanges = sum(1 for line in (Path(tmp) / "events.jsonl").open("rb")
                        if b'"type":"exchange"' in line)
    rps = {name: median(r.req_per_s for r in rs) for name, rs in results.items()}
    p99 = {name: median(r.p99_ms or 0.0 for r in rs) for name, rs in results.items()}
    per = {name: median(values) for name, values in cpu_us.items()}
    for name in results:
        print(f"{name + ':':10} {rps[name]:8,.0f} req/s, p99 {p99[name]:6.2f} ms, "
              f"{per[name]:5.1f} CPU µs/request in its own process"
              + (f" (one core: {1e6 / per[name]:,.0f} req/s)" if per[name] else ""))
    print(f"ratio relay/direct: {rps['relay'] / rps['direct']:.2f}; p99 added: "
          f"{p99['relay'] - p99['direct']:.2f} ms; exchanges recorded by the relay: "
          f"{exchanges}")
    if "forwarder" in rps:
        print(f"ratio forwarder/direct: {rps['forwarder'] / rps['direct']:.2f}; p99 added: "
              f"{p99['forwarder'] - p99['direct']:.2f} ms")
    one = {name: median(values) for name, values in alone.items()}
    print("one connection, p99: " + ", ".join(f"{name} {one[name]:.2f} ms" for name in one)
          + f"; added by the relay {one['relay'] - one['direct']:.2f} ms"
          + (f", by relay + forwarder {one['forwarder'] - one['direct']:.2f} ms"
             if "forwarder" in one else ""))
    one_core = 1e6 / per["relay"] if per["relay"] else 0.0
    print(f"targets: >= 5,000 req/s through the relay on one core: "
          f"{'met' if max(rps['relay'], one_core) >= 5000 else 'MISSED'} "
          f"(measured {rps['relay']:,.0f}, CPU bound {one_core:,.0f}); "
          f"<= 1 ms added at p99: {'met' if p99['relay'] - p99['direct'] <= 1.0 else 'MISSED'}"
          f" at {args.connections} connections, "
          f"{'met' if one['relay'] - one['direct'] <= 1.0 else 'MISSED'} at one")


if __name__ == "__main__":
    main()
