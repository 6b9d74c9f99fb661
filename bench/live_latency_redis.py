"""Live traffic over Redis, on the documented multi-process setup (docs/deploy.md): does an
idle viewer stay connected, and how long after a request is sent does its row reach a
viewer in another daphne process?

    .venv/bin/python bench/live_latency_redis.py     # 60 s idle; 3 rounds of 100 req/s x 5 s
    .venv/bin/python bench/live_latency_redis.py --idle 60 --rate 100 --seconds 5 \
        --rounds 3 --database postgres

Runs a real redis-server of its own, two real daphne processes (A and B, `python -m
daphne`, as docs/deploy.md runs them, through tests/testkit/playgrounds.py) on one
PostgreSQL database (a throwaway cluster; ``--database sqlite`` for their shared file)
with REDIS_URL set, and a sandbox with the starter site started through A, so A owns its
server and listens on the control group (playground/sandboxes/control.py). Two websocket
viewers of its traffic (bench/wsclient.py): one on B (the issue's case: the viewer in
the other process) and one on A (the owner's process, where the control listener
receives too). Two references in the same run, each with its own sandbox and viewer:
(1) one daphne with the in-memory layer on the same kind of database, which leaves
the layer and the second process as the only difference; (2) bench/live_latency.py's
playground (runserver, SQLite, in-memory), the figure the issue compares with.

1. Warm-up: 20 requests to each sandbox, until every viewer has their rows.
2. Idle: nothing is sent for ``--idle`` seconds. A viewer the server closes, then or
   at any time (1011 when the layer's blocking read times out), is reported with how
   long after it opened and its close code.
3. Latency: ``--rounds`` rounds, each sending GET /index.html?r=<round>&n=<i> on one
   keep-alive connection at ``--rate`` for ``--seconds`` to each setup's sandbox in
   turn (each round in another order), as bench/live_latency.py does; each viewer
   notes when the row with that target arrives.

Targets (issue 12, item 9): no close during the idle minute, every row reaches every
viewer, p50 <= 20 ms and p99 <= 100 ms on the viewer in B. Prints the references'
figures and the Redis viewers' p50 as a ratio of reference 1's, and judges the latency
both ways: as the issue's milliseconds, and relative to this run (p50 at most 20/16 of
reference 1's, the issue's target over its in-memory figure; p99 at most 100 ms, or
20/16 of reference 1's p99 when the machine's load already puts that higher). Exits
non-zero when a viewer was closed, a row was missing or the relative target was missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))  # testkit: the suite's real processes

from live_latency import TARGET_P50, TARGET_P99, percentile, send_at_rate  # noqa: E402
from playground_proc import Playground, Viewer  # noqa: E402
from testkit.playgrounds import Browser, Daphne, migrate, playground_env  # noqa: E402
from testkit.ports import free_ports  # noqa: E402
from testkit.services import fresh_database, postgres_cluster, redis_server  # noqa: E402
from wsclient import WebSocket  # noqa: E402

OTHER, OWNER = "viewer on B (other process)", "viewer on A (owner, control listener)"
# The 20 ms over the 16 ms it measured with the in-memory layer: how much the
# layer and the second process may add, as a ratio, since on these shared 2-core machines
# the absolute figures follow everyone else's load (the references show how much).
TARGET_RATIO = 20 / 16
SAME_DB = "reference 1: one daphne, in-memory layer, same database"
RUNSERVER = "reference 2: bench/live_latency.py (runserver, SQLite, in-memory layer)"


def open_viewer(browser: Browser, site: Daphne, sandbox_id: int) -> Viewer:
    return Viewer(WebSocket("127.0.0.1", site.port, f"/ws/sandboxes/{sandbox_id}/", {
        "Origin": site.base, "Cookie": f"sessionid={browser.cookie('sessionid')}"}))


@contextlib.contextmanager
def daphnes(tmp: Path, viewers_on: dict[str, str], **settings: str
            ) -> Iterator[tuple[int, dict[str, Viewer]]]:
    """Daphne processes (``viewers_on``: name -> its viewer's label) on one database, a
    starter-site sandbox started through the first (which so runs its server); yields
    the sandbox's port and a viewer on each process."""
    tmp.mkdir()
    sandbox_port, *ports = free_ports(1 + len(viewers_on))
    env = playground_env(tmp, **settings, PLAYGROUND_PORT_RANGE=f"{sandbox_port}-{sandbox_port}")
    migrate(env)
    sites: list[Daphne] = []
    viewers: dict[str, Viewer] = {}
    try:
        for name, port in zip(viewers_on, ports, strict=True):
            sites.append(Daphne(name, env, tmp, port))
        browser = Browser()
        sandbox = browser.new_sandbox(sites[0], "bench", sandbox_port)
        browser.call(sites[0], "POST", sandbox["links"]["starter"], {})
        status, started = browser.call(sites[0], "POST", sandbox["links"]["start"])
        assert status == 200 and started["status"] == "running", started
        for site, label in zip(sites, viewers_on.values(), strict=True):
            viewers[label] = open_viewer(browser, site, sandbox["id"])
        yield sandbox_port, viewers
    finally:
        for viewer in viewers.values():
            viewer.close()
        for site in sites:
            site.close()


@contextlib.contextmanager
def runserver_setup(tmp: Path) -> Iterator[tuple[int, dict[str, Viewer]]]:
    """bench/live_latency.py's playground: runserver, SQLite, the in-memory layer."""
    tmp.mkdir()
    site = Playground(tmp)
    viewer: Viewer | None = None
    try:
        sandbox = site.sandbox()
        viewer = Viewer(site.websocket(sandbox["id"]))
        yield sandbox["port"], {RUNSERVER: viewer}
    finally:
        if viewer is not None:
            viewer.close()
        site.close()


def run(idle: float, rate: float, seconds: float, rounds: int, db: str) -> dict:
    with tempfile.TemporaryDirectory() as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        (tmp / "redis").mkdir()
        redis_url = stack.enter_context(redis_server(tmp / "redis", free_ports(1)[0]))
        if db == "postgres":  # a throwaway cluster, a database of its own for each setup
            cluster = stack.enter_context(postgres_cluster(free_ports(1)[0]))

            def database() -> dict[str, str]:
                return {"DATABASE_URL": fresh_database(cluster)}
        else:  # each setup's own SQLite file, shared by its processes

            def database() -> dict[str, str]:
                return {}
        setups = [
            stack.enter_context(daphnes(tmp / "redis-layer", {"A": OWNER, "B": OTHER},
                                        REDIS_URL=redis_url, **database())),
            stack.enter_context(daphnes(tmp / "memory-layer", {"M": SAME_DB}, **database())),
            stack.enter_context(runserver_setup(tmp / "runserver")),
        ]
        viewers = {label: v for _, group in setups for label, v in group.items()}
        for port, group in setups:  # warm up: first rows, first queries, the replay
            warm = send_at_rate(port, 20, 1, "warm&")
            for viewer in group.values():
                viewer.wait_for(warm)
        time.sleep(idle)  # the measurement: nothing happens for this long
        closes = {label: (round(v.closed_at - v.opened_at, 1), v.ws.close_code)
                  for label, v in viewers.items() if v.closed_at is not None}
        latencies: dict[str, list[float]] = {label: [] for label in viewers}
        for r in range(rounds):  # interleaved, each round in another order
            for port, group in setups[r % 3:] + setups[:r % 3]:
                sent = send_at_rate(port, rate, seconds, f"r={r}&")
                for label, viewer in group.items():
                    viewer.wait_for(sent)
                    latencies[label] += [(viewer.arrived[t] - s) * 1000
                                         for t, s in sent.items() if t in viewer.arrived]
        return {"sent": rounds * int(rate * seconds), "closes": closes,
                "latencies": latencies}


def describe(lat: list[float]) -> str:
    if not lat:
        return "no rows"
    return (f"p50 {statistics.median(lat):.1f} ms, p90 {percentile(lat, 0.9):.1f} ms, "
            f"p99 {percentile(lat, 0.99):.1f} ms, max {max(lat):.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    result = run(args.idle, args.rate, args.seconds, args.rounds, args.database)
    lat = result["latencies"]
    print(f"Redis, two daphne processes ({args.database}), sandbox owned by A; "
          f"{args.idle:g} s idle, then {args.rounds} rounds of {args.rate:g} req/s for "
          f"{args.seconds:g} s, interleaved with the references (load average "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} CPUs)")
    print(f"  closed by the server: {result['closes'] or 'none'}  (viewer: (seconds after "
          f"it opened, close code))")
    delivered = not result["closes"]
    same = lat[SAME_DB] or [float("nan")]
    reference, reference_p99 = statistics.median(same), percentile(same, 0.99)
    for label, values in lat.items():
        delivered = delivered and len(values) == result["sent"]
        ratio = (f"; p50 {statistics.median(values) / reference:.2f}x reference 1"
                 if values and label in (OTHER, OWNER) else "")
        print(f"  {label}: {len(values)}/{result['sent']} rows; {describe(values)}{ratio}")
    other = lat[OTHER] or [float("inf")]
    p50, p99 = statistics.median(other), percentile(other, 0.99)
    absolute = p50 <= TARGET_P50 and p99 <= TARGET_P99
    tail = max(TARGET_P99, TARGET_RATIO * reference_p99)
    relative = p50 <= TARGET_RATIO * reference and p99 <= tail
    print(f"targets: no close (idle {args.idle:g} s) and every row on every viewer: "
          f"{'met' if delivered else 'NOT met'}; viewer on B p50 <= {TARGET_P50:g} ms and "
          f"p99 <= {TARGET_P99:g} ms: {'met' if absolute else 'NOT met'}; the same relative "
          f"to this run (p50 <= {TARGET_RATIO:g}x reference 1's, p99 <= {tail:.0f} ms): "
          f"{'met' if relative else 'NOT met'}")
    return 0 if delivered and relative else 1


if __name__ == "__main__":
    sys.exit(main())
