"""A class of 60 on one playground (issue 15, point 5): what it costs the machine, and
whether the live views keep up.

    .venv/bin/python bench/class_bench.py                      # 60 students, 120 s
    .venv/bin/python bench/class_bench.py --students 6 --seconds 30

Runs the real playground (`manage.py runserver --noreload`: daphne, one process) in a
throwaway folder, with a class made by the ORM (bench/class_setup.py): a teacher and N
logged-in students. Each student has one sandbox, alternately henaserver (the starter
site) and a program (the "static" starter, under bubblewrap behind the capture relay:
run as root), and its traffic page open (a websocket); the teacher has the class board
open (ws/classes/<id>/). Then, for ``--seconds``, every student reloads a page of three
files every few seconds (3 s +- 50 %), and each runs the checks once, staggered over the
first half.

Measured (bench/class_procs.py for the machine's side):

* memory: daphne's RSS and PSS, and the PSS of all its descendants, idle, with the
  sandboxes, with the viewers, and the peak during the class; threads and descriptors;
* per sandbox: a henaserver child; a program's bwrap + launcher + program + relay;
* live latency: a file's request sent -> its exchange on that student's traffic
  websocket (p50, p99, max), against the same measured with one student alone, first,
  in the same run (the reference: the ratio says what the class adds);
* board latency: a change -> the teacher's board row showing it: a sandbox started
  (from the start's answer) and a check run ended (from the run's ended_at).

Goals: live p99 <= 200 ms, board <= 1 s (the worst one).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import class_procs  # noqa: E402
from class_load import Account, Board, reload_page  # noqa: E402
from playground_proc import REPO, Playground, Viewer  # noqa: E402

LIVE_P99_MS, BOARD_S = 200.0, 1.0
# The class's budgets: one machine's, with every student behind the same address.
ENV = {"PLAYGROUND_MAX_RUNNING_SANDBOXES": "200", "PLAYGROUND_MAX_RUNNING_PER_ADDRESS": "200",
       "PLAYGROUND_MAX_RUNNING_PER_NETWORK": "200", "PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS": "200",
       "PLAYGROUND_MAX_SANDBOXES_PER_NETWORK": "200", "PLAYGROUND_START_TIMEOUT": "60"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Student:
    def __init__(self, index: int, row: dict, account: Account) -> None:
        self.index, self.id, self.account = index, row["id"], account
        self.kind = "henaserver" if index % 2 == 0 else "program"
        self.sandbox: dict = {}
        self.error = ""
        self.start_answered = 0.0  # time.time() when the start's answer arrived
        self.start_ms = 0.0
        self.viewer: Viewer | None = None
        self.sent: dict[str, float] = {}  # target -> perf_counter() at its send
        self.answered: dict[str, float] = {}  # target -> perf_counter() when answered
        self.failures = 0
        self.run: dict | None = None

    def create_and_start(self) -> None:
        try:
            port = self.account.call("GET", "/api/sandboxes/?suggest=1")["suggested_port"]
            body = {"name": f"site {self.index}", "port": port}
            if self.kind == "program":
                body.update(kind="program", starter="static")
            sb = self.account.call("POST", "/api/sandboxes/", body)
            if self.kind == "henaserver":
                self.account.call("POST", sb["links"]["starter"], {})
            began = time.perf_counter()
            self.sandbox = self.account.call("POST", sb["links"]["start"])
            self.start_ms = (time.perf_counter() - began) * 1000
            self.start_answered = time.time()
        except OSError as exc:  # urllib's HTTPError too: the playground refused
            self.error = f"{self.kind} sandbox: {exc}"

    def reload_until(self, end: float, interval: float, rng: random.Random) -> None:
        count = 0
        while time.monotonic() < end:
            self.failures += reload_page(self.sandbox["port"], f"s{self.index}-{count}",
                                         self.sent, self.answered)
            count += 1
            time.sleep(interval * rng.uniform(0.5, 1.5))

    def check_once(self) -> None:
        try:
            self.run = self.account.call("POST", self.sandbox["links"]["checks"], {})
        except OSError as exc:
            self.error = f"checks: {exc}"

    def latencies(self, since: float = 0.0) -> tuple[list[tuple[str, float, float]], int]:
        """For each target sent after ``since`` whose row arrived: (target, ms from its
        send, ms from its answer read); and how many rows never arrived."""
        assert self.viewer is not None
        got = [(t, (self.viewer.arrived[t] - s) * 1000,
                (self.viewer.arrived[t] - self.answered[t]) * 1000)
               for t, s in self.sent.items()
               if s >= since and t in self.viewer.arrived and t in self.answered]
        return got, sum(1 for s in self.sent.values() if s >= since) - len(got)


class Sampler(threading.Thread):
    """class_procs.sample() every second into ``samples`` (phase, Sample)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.phase, self.samples = pid, "idle", []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            self.samples.append((self.phase, class_procs.sample(self.pid)))


def _ended_at(run: dict) -> float:
    return datetime.fromisoformat(run["ended_at"]).timestamp()


def _wait_runs(students: list[Student], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for s in students:
        while s.run is not None and s.run["state"] == "running":
            if time.monotonic() > deadline:
                return
            time.sleep(1.0)
            s.run = s.account.call("GET", s.run["links"]["self"])


def run(n: int, seconds: float, interval: float) -> dict:
    out: dict = {"students": n, "seconds": seconds, "interval": interval}
    with tempfile.TemporaryDirectory(prefix="henaclass-") as tmp:
        Path(tmp).chmod(0o755)  # each program's uid must pass through to its folder
        site = Playground(Path(tmp), env=ENV)
        sampler = Sampler(site.proc.pid)
        try:
            sampler.start()
            out["idle"] = class_procs.sample(site.proc.pid)
            made = json.loads(subprocess.run(
                [sys.executable, "bench/class_setup.py", str(n)], cwd=REPO, env=site.env,
                check=True, capture_output=True, text=True).stdout)
            teacher = Account(site.base, made["teacher"])
            board = Board(teacher, made["class_id"])
            students = [Student(i, row, Account(site.base, row["session"]))
                        for i, row in enumerate(made["students"])]
            sampler.phase = "starting"
            for s in students:
                s.create_and_start()
            ready = [s for s in students if not s.error]
            out["started"] = class_procs.sample(site.proc.pid)
            for s in ready:
                s.viewer = Viewer(s.account.websocket(f"/ws/sandboxes/{s.sandbox['id']}/"))
            time.sleep(2.0)  # let the viewers' replays and opening messages pass
            out["viewing"] = class_procs.sample(site.proc.pid)

            # The reference: the first student alone reloads 20 times.
            sampler.phase = "alone"
            alone = ready[0]
            for i in range(20):
                alone.failures += reload_page(alone.sandbox["port"], f"alone-{i}", alone.sent,
                                              alone.answered)
                time.sleep(0.3)
            alone.viewer.wait_for(alone.sent, timeout=30)
            out["alone"] = [sent for _, sent, _ in alone.latencies()[0]]
            class_began = time.perf_counter()

            sampler.phase = "class"
            end = time.monotonic() + seconds
            rng = random.Random(15)
            threads = [threading.Thread(target=s.reload_until, daemon=True,
                                        args=(end, interval, random.Random(rng.random())))
                       for s in ready]
            for t in threads:
                t.start()
            stagger = seconds / 2 / max(1, len(ready))
            for s in ready:
                s.check_once()
                time.sleep(stagger)
            for t in threads:
                t.join()
            sampler.phase = "after"
            for s in ready:
                s.viewer.wait_for(s.sent, timeout=5)
            _wait_runs(ready, timeout=300)
            out["end"] = class_procs.sample(site.proc.pid)
            _collect(out, students, ready, board, class_began)
        finally:
            sampler.stopped.set()
            site.close()
    out["samples"] = sampler.samples
    return out


def _collect(out: dict, students: list[Student], ready: list[Student], board: Board,
             class_began: float) -> None:
    out["live"], out["missing"] = {"henaserver": [], "program": []}, 0
    out["worst"] = []
    for s in ready:
        got, lost = s.latencies(since=class_began)
        out["live"][s.kind] += [(sent, answered) for _, sent, answered in got]
        out["worst"] += [(sent, answered, s.kind, t) for t, sent, answered in got]
        out["missing"] += lost
    out["failures"] = sum(s.failures for s in ready)
    out["errors"] = [s.error for s in students if s.error]
    out["start_ms"] = {kind: [s.start_ms for s in ready if s.kind == kind]
                       for kind in ("henaserver", "program")}
    out["runs"] = [s.run for s in ready if s.run]
    out["board_error"] = board.error
    starts, checks, unseen = [], [], 0
    if board.error is None:
        for s in ready:
            sid = s.sandbox["id"]
            at = board.first(s.id, s.start_answered - 5, lambda row, sid=sid: any(
                b["id"] == sid and b["status"] == "running" for b in row["sandboxes"]))
            if at is None:
                unseen += 1
            else:
                starts.append(max(0.0, at - s.start_answered))
            if s.run and s.run.get("ended_at"):
                ended, number = _ended_at(s.run), s.run["number"]
                at = board.first(s.id, ended - 1, lambda row, number=number: bool(
                    row.get("last_check") and row["last_check"]["number"] == number
                    and row["last_check"]["state"] != "running"))
                if at is None:
                    unseen += 1
                else:
                    checks.append(at - ended)
        board.close()
    out["board_starts"], out["board_checks"], out["board_unseen"] = starts, checks, unseen
    for s in ready:
        s.viewer.close()


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


def report(r: dict) -> str:
    lines = [f"class of {r['students']}: {r['seconds']:g} s of reloads (3 files every "
             f"{r['interval']:g} s +- 50 %) and one check run each, on {os.cpu_count()} CPUs, "
             f"load average {os.getloadavg()[0]:.1f} at the end"]
    if r["errors"]:
        lines.append(f"ERRORS ({len(r['errors'])}): " + "; ".join(r["errors"][:5]))
    lines.append("| moment | daphne RSS | daphne PSS | threads | fds | all processes PSS | "
                 "processes | all fds |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    peak = max((s for phase, s in r["samples"] if phase == "class"),
               key=lambda s: s.total_pss_kib, default=None)
    for name, s in (("idle, no class", r["idle"]), ("60 sandboxes running", r["started"]),
                    ("+ viewers and the board", r["viewing"]), ("class: peak PSS", peak),
                    ("after the class", r["end"])):
        if s is None:
            continue
        count = 1 + sum(p[0] for p in s.parts.values())
        lines.append(f"| {name.replace('60', str(r['students']))} | {_mib(s.daphne_rss_kib)} | "
                     f"{_mib(s.daphne_pss_kib)} | {s.daphne_threads} | {s.daphne_fds} | "
                     f"{_mib(s.total_pss_kib)} | {count} | {s.all_fds} |")
    s, half = r["viewing"], r["students"] / 2
    parts = s.parts
    program = sum(parts[p][2] for p in ("relay", "bwrap", "launcher", "program"))
    lines.append(f"per sandbox (PSS): henaserver {_mib(parts['henaserver'][2] / half)} "
                 f"(RSS {_mib(parts['henaserver'][1] / half)}); program "
                 f"{_mib(program / half)} = " + " + ".join(
                     f"{p} {_mib(parts[p][2] / half)}" for p in
                     ("bwrap", "launcher", "program", "relay"))
                 + f"; daphne's own growth per student (sandbox, viewer): "
                 f"{_mib((s.daphne_pss_kib - r['idle'].daphne_pss_kib) / r['students'])}; "
                 f"other processes: {parts['other'][0]}")
    for kind, values in r["start_ms"].items():
        if values:
            lines.append(f"start to running ({kind}): median {statistics.median(values):.0f} ms,"
                         f" max {max(values):.0f} ms")
    alone = r["alone"]
    live = [sent for values in r["live"].values() for sent, _ in values]
    p99 = percentile(live, 0.99) if live else float("inf")
    if live and alone:
        a99 = percentile(alone, 0.99)
        lines.append(
            f"live (request sent -> its row on the student's traffic websocket): "
            f"{len(live)} rows, {r['missing']} missing, {r['failures']} failed answers; "
            f"p50 {statistics.median(live):.1f} ms, p90 {percentile(live, 0.9):.1f} ms, "
            f"p99 {p99:.1f} ms, max {max(live):.1f} ms; one student alone (reference, same run)"
            f": p50 {statistics.median(alone):.1f} ms, p99 {a99:.1f} ms; class/alone at p99 "
            f"{p99 / a99:.1f}x; goal p99 <= {LIVE_P99_MS:g} ms: "
            f"{'met' if p99 <= LIVE_P99_MS else 'NOT met'}")
        for kind, values in r["live"].items():
            if values:
                sent = [x for x, _ in values]
                answered = [y for _, y in values]
                lines.append(
                    f"  {kind}: from the send p50 {statistics.median(sent):.1f} ms, p99 "
                    f"{percentile(sent, 0.99):.1f} ms; from the answer read (the "
                    f"playground's part) p50 {statistics.median(answered):.1f} ms, p99 "
                    f"{percentile(answered, 0.99):.1f} ms, max {max(answered):.1f} ms")
        lines.append("  slowest: " + ", ".join(
            f"{t} ({kind}) {sent:.0f} ms, {answered:.0f} ms after its answer"
            for sent, answered, kind, t in sorted(r["worst"], reverse=True)[:5]))
    runs = r["runs"]
    if runs:
        took = [_ended_at(x) - datetime.fromisoformat(x["started_at"]).timestamp()
                for x in runs if x.get("ended_at")]
        states = {st: sum(x["state"] == st for x in runs) for st in {x["state"] for x in runs}}
        lines.append(f"check runs: {len(runs)}, states {states}, each took median "
                     f"{statistics.median(took):.1f} s, max {max(took):.1f} s" if took else
                     f"check runs: {len(runs)}, states {states}")
    if r["board_error"]:
        lines.append(f"board: not measured ({r['board_error']})")
    else:
        worst = max(r["board_starts"] + r["board_checks"], default=float("inf"))
        for name, values in (("a sandbox started", r["board_starts"]),
                             ("a check run ended", r["board_checks"])):
            if values:
                lines.append(f"board ({name} -> its row): {len(values)} changes, median "
                             f"{statistics.median(values) * 1000:.0f} ms, p99 "
                             f"{percentile(values, 0.99) * 1000:.0f} ms, max "
                             f"{max(values) * 1000:.0f} ms")
        ok = worst <= BOARD_S and not r["board_unseen"]
        lines.append(f"board: {r['board_unseen']} changes never shown; goal every change "
                     f"<= {BOARD_S:g} s: {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def summary(r: dict) -> dict:
    """What was lost or refused, and what was counted (``--json``; the test reads it)."""
    s = r["viewing"]
    return {"errors": r["errors"], "missing_rows": r["missing"],
            "failed_answers": r["failures"], "board_error": r["board_error"],
            "board_unseen": r["board_unseen"],
            "board_changes": len(r["board_starts"]) + len(r["board_checks"]),
            "live_rows": {kind: len(v) for kind, v in r["live"].items()},
            "processes": {part: row[0] for part, row in s.parts.items()},
            "run_states": sorted(x["state"] for x in r["runs"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=3.0,
                        help="seconds between a student's reloads (on average)")
    parser.add_argument("--json", type=Path, help="also write what was lost, as JSON")
    args = parser.parse_args()
    result = run(args.students, args.seconds, args.interval)
    print(report(result))
    counted = summary(result)
    if args.json:
        args.json.write_text(json.dumps(counted))
    lost = (counted["errors"] or counted["missing_rows"] or counted["failed_answers"]
            or counted["board_error"] or counted["board_unseen"])
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
