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
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import class_procs  # noqa: E402
from class_load import Account, Board, reload_page  # noqa: E402
from class_report import ended_at, report, summary  # noqa: E402
from playground_proc import REPO, Playground, Viewer  # noqa: E402

# How long a change may take to reach the board before it counts as never shown: far
# past the goal (1 s), so a slow one is measured, not lost.
BOARD_WAIT = 10.0
# The class's budgets: one machine's, with every student behind the same address.
ENV = {"PLAYGROUND_MAX_RUNNING_SANDBOXES": "200", "PLAYGROUND_MAX_RUNNING_PER_ADDRESS": "200",
       "PLAYGROUND_MAX_RUNNING_PER_NETWORK": "200", "PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS": "200",
       "PLAYGROUND_MAX_SANDBOXES_PER_NETWORK": "200", "PLAYGROUND_START_TIMEOUT": "60",
       # Program sandboxes run as uid base + pk: a base of this run's own, so a
       # playground (or another run) on the same machine never shares a uid with ours
       # (a start ends whatever still runs as its uid).
       "PLAYGROUND_PROGRAM_UID_BASE": str(1_000_000 + os.getpid() % 10_000 * 1_000)}


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

    def reload_until(self, end: float, over: threading.Event, interval: float,
                     rng: random.Random) -> None:
        # Students do not all press reload in the same millisecond: each starts at a
        # random point of its first interval (a run of 60 started in lockstep measured
        # that herd, 180 requests at once, rather than the class: docs/benchmarks.md).
        time.sleep(interval * rng.random())
        count = 0
        while time.monotonic() < end or not over.is_set():
            self.failures += reload_page(self.sandbox["port"], f"s{self.index}-{count}",
                                         self.sent, self.answered)
            count += 1
            time.sleep(interval * rng.uniform(0.5, 1.5))

    def check_once(self) -> None:
        try:
            self.run = self.account.call("POST", self.sandbox["links"]["checks"], {})
        except OSError as exc:  # an HTTPError (an OSError) says why in its body
            why = exc.read()[:200].decode(errors="replace") if hasattr(exc, "read") else ""
            self.error = f"checks ({self.kind} s{self.index}): {exc} {why}".rstrip()

    def latencies(self, since: float = 0.0) -> tuple[list[tuple], int]:
        """For each target sent after ``since`` whose row arrived: (target, its send time,
        ms from its send, ms from its answer read); and how many rows never arrived."""
        assert self.viewer is not None
        got = [(t, s, (self.viewer.arrived[t] - s) * 1000,
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


def _wait_runs(students: list[Student], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for s in students:
        while s.run is not None and s.run["state"] == "running":
            if time.monotonic() > deadline:
                return
            time.sleep(1.0)
            s.run = s.account.call("GET", s.run["links"]["self"])


def run(n: int, seconds: float, interval: float, log: Path | None = None) -> dict:
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
            out["alone"] = [sent for _, _, sent, _ in alone.latencies()[0]]
            class_began = time.perf_counter()
            out["class_began"] = class_began

            sampler.phase = "reloads"
            end = time.monotonic() + seconds
            # The reloads go on until the class's time is up and every check run has
            # ended (runs wait their turn, docs/checks.md: some end after the time).
            over = threading.Event()
            rng = random.Random(15)
            threads = [threading.Thread(target=s.reload_until, daemon=True,
                                        args=(end, over, interval, random.Random(rng.random())))
                       for s in ready]
            for t in threads:
                t.start()
            # The first half: reloads only; the second: the checks too, one student
            # after another, staggered over it.
            time.sleep(seconds / 2)
            sampler.phase = "checks"
            out["checks_began"] = time.perf_counter()
            stagger = seconds / 2 / max(1, len(ready))
            for s in ready:
                s.check_once()
                time.sleep(stagger)
            _wait_runs(ready, timeout=300)
            over.set()
            out["class_ended"] = time.perf_counter()
            for t in threads:
                t.join()
            sampler.phase = "after"
            for s in ready:
                s.viewer.wait_for(s.sent, timeout=30)
            out["end"] = class_procs.sample(site.proc.pid)
            _collect(out, students, ready, board, class_began)
        finally:
            sampler.stopped.set()
            site.close()
            if log is not None:  # the playground's own log (it goes with the folder)
                shutil.copy(site.log_path, log)
    out["samples"] = sampler.samples
    return out


def _collect(out: dict, students: list[Student], ready: list[Student], board: Board,
             class_began: float) -> None:
    # rows: (kind, phase, ms from the send, ms from the answer, target, s into the class)
    out["rows"], out["missing"] = [], 0
    for s in ready:
        got, lost = s.latencies(since=class_began)
        out["rows"] += [(s.kind, "reloads" if at < out["checks_began"] else "checks",
                         sent, answered, t, at - class_began) for t, at, sent, answered in got]
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
            at = board.wait_first(s.id, s.start_answered - 5, lambda row, sid=sid: any(
                b["id"] == sid and b["status"] == "running" for b in row["sandboxes"]),
                BOARD_WAIT)
            if at is None:
                unseen += 1
            else:
                starts.append(max(0.0, at - s.start_answered))
            if s.run and s.run.get("ended_at"):
                ended, number = ended_at(s.run), s.run["number"]
                at = board.wait_first(s.id, ended - 1, lambda row, number=number: bool(
                    row.get("last_check") and row["last_check"]["number"] == number
                    and row["last_check"]["state"] != "running"), BOARD_WAIT)
                if at is None:
                    unseen += 1
                else:
                    checks.append(at - ended)
        board.close()
    out["board_starts"], out["board_checks"], out["board_unseen"] = starts, checks, unseen
    for s in ready:
        s.viewer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=3.0,
                        help="seconds between a student's reloads (on average)")
    parser.add_argument("--json", type=Path, help="also write what was lost, as JSON")
    parser.add_argument("--log", type=Path, help="keep the playground's log there")
    args = parser.parse_args()
    result = run(args.students, args.seconds, args.interval, args.log)
    print(report(result))
    counted = summary(result)
    if args.json:
        args.json.write_text(json.dumps(counted))
    lost = (counted["errors"] or counted["missing_rows"] or counted["failed_answers"]
            or counted["board_error"] or counted["board_unseen"])
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
