"""Turn one benchmark run into tables, target ratios and a markdown block."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import connections
import events_check
from wrk import WrkResult

NGINX = "nginx"
OFF = "henaserver, capture off"
ON = "henaserver, capture on"
HTTP_SERVER = "python -m http.server"
UVICORN = "uvicorn + httptools app"


@dataclass
class Run:
    environment: list[str] = field(default_factory=list)
    small: dict[str, list[WrkResult]] = field(default_factory=dict)  # name -> rounds
    big: dict[str, list[WrkResult]] = field(default_factory=dict)
    events: events_check.EventsSummary | None = None
    events_verdict: tuple[bool, str] | None = None
    # CPU microseconds the server used per response, each small-file round (name -> rounds)
    cpu_us: dict[str, list[float]] = field(default_factory=dict)
    client_responses_on: int = 0  # responses wrk and our checks got from the capture-on server
    conns: connections.Result | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    label: str
    ratio: float | None
    threshold: float

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "n/a"
        return "PASS" if self.ratio >= self.threshold else "MISS"


def median(results: list[WrkResult], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in results)


def _ratio(run: dict[str, list[WrkResult]], a: str, b: str, attr: str) -> float | None:
    if not run.get(a) or not run.get(b):
        return None
    denominator = median(run[b], attr)
    return median(run[a], attr) / denominator if denominator else None


def _cpu_ratio(run: Run, a: str, b: str) -> float | None:
    if not run.cpu_us.get(a) or not run.cpu_us.get(b):
        return None
    return statistics.median(run.cpu_us[a]) / statistics.median(run.cpu_us[b])


def targets(run: Run) -> list[Target]:
    """The issue's targets, as ratios of medians from this one interleaved run."""
    return [
        Target("small file: capture on / nginx", _ratio(run.small, ON, NGINX, "req_per_s"), 0.5),
        Target("small file: capture on / http.server",
               _ratio(run.small, ON, HTTP_SERVER, "req_per_s"), 10.0),
        Target("small file: capture on / capture off",
               _ratio(run.small, ON, OFF, "req_per_s"), 0.85),
        Target("small file: capture on / uvicorn + httptools app",
               _ratio(run.small, ON, UVICORN, "req_per_s"), 1.0),
        # The same two targets from CPU per response (the reciprocal of a CPU-bound
        # server's rate): what req/s would say on a quiet machine.
        Target("small file, by CPU per response: capture off / capture on",
               _cpu_ratio(run, OFF, ON), 0.85),
        Target("small file, by CPU per response: uvicorn + httptools app / capture on",
               _cpu_ratio(run, UVICORN, ON), 1.0),
        Target("10 MiB file: capture on / nginx (MiB/s)",
               _ratio(run.big, ON, NGINX, "bytes_per_s"), 0.5),
    ]


def _table(results: dict[str, list[WrkResult]], big: bool) -> list[str]:
    lines = ["| server | req/s (median) | rounds req/s | MiB/s (median) | "
             "p50 ms | p99 ms | socket errors | non-2xx |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, rounds in results.items():
        if not rounds:
            continue
        each = " / ".join(f"{r.req_per_s:,.0f}" for r in rounds)
        p50 = statistics.median(r.p50_ms for r in rounds if r.p50_ms is not None)
        p99 = statistics.median(r.p99_ms for r in rounds if r.p99_ms is not None)
        lines.append(
            f"| {name} | {median(rounds, 'req_per_s'):,.0f} | {each} | "
            f"{median(rounds, 'mib_per_s'):,.{0 if big else 2}f} | {p50:.2f} | {p99:.2f} | "
            f"{sum(r.socket_errors for r in rounds)} | {sum(r.non_2xx for r in rounds)} |")
    return lines


def markdown(run: Run, commands: list[str]) -> str:
    out = ["## Results", ""]
    out += [f"- {line}" for line in run.environment]
    out += ["", "Commands (per round, interleaved):", "", "```"] + commands + ["```", ""]
    out += ["### Small file (100 B index.html), 10 keep-alive connections", ""]
    out += _table(run.small, big=False)
    if run.cpu_us:
        out += ["", "CPU time the server used per response (user + system, all its threads, "
                "from /proc/PID/stat around each round; less noisy than req/s on a shared "
                "machine):", "", "| server | CPU µs per response (median) | rounds |",
                "| --- | ---: | --- |"]
        out += [f"| {name} | {statistics.median(each):.1f} | "
                f"{' / '.join(f'{x:.1f}' for x in each)} |" for name, each in run.cpu_us.items()]
    if run.big:
        out += ["", "### 10 MiB file (big.bin), 10 connections", ""]
        out += _table(run.big, big=True)
    out += ["", "### Targets (ratios of medians, this run)", "",
            "| target | ratio | needed | verdict |", "| --- | ---: | ---: | --- |"]
    for t in targets(run):
        shown = "n/a" if t.ratio is None else f"{t.ratio:.2f}x"
        out.append(f"| {t.label} | {shown} | >= {t.threshold}x | **{t.verdict}** |")
    if run.conns is not None:
        c = run.conns
        out.append(f"| {c.connections:,} connections held while serving | "
                   f"{c.recheck_ok}/{c.connections} | all | **{'PASS' if c.held else 'MISS'}** |")
        out.append(f"| memory flat with {c.connections:,} open | "
                   f"{c.per_connection_kib:.1f} KiB/conn | flat under load | "
                   f"**{'PASS' if c.flat else 'MISS'}** |")
    if run.events is not None and run.events_verdict is not None:
        e, (ok, why) = run.events, run.events_verdict
        counted = "n/a" if e.stats_exchanges is None else f"{e.stats_exchanges:,}"
        out += ["", "### Capture accounting (capture-on server, whole run)", "",
                f"- clients (wrk and 2 checks) received {run.client_responses_on:,} responses; "
                "the server counted "
                f"{counted} exchanges (last `server.stats`)",
                f"- events file: {e.size_bytes / 1024**2:,.1f} MiB, {e.lines:,} lines, "
                f"{e.exchanges:,} `exchange` events (outcomes: {dict(e.outcomes)}), "
                f"{e.bad_lines} unparsable lines",
                f"- events dropped (server's own counter): {e.dropped_total:,}",
                f"- verdict: **{'consistent' if ok else 'INCONSISTENT'}** ({why})"]
    if run.conns is not None:
        out += ["", connections.markdown(run.conns, "capture on")]
    if run.notes:
        out += ["", "### Notes", ""] + [f"- {n}" for n in run.notes]
    return "\n".join(out) + "\n"
