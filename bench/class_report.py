"""bench/class_bench.py's figures, as the lines docs/benchmarks.md quotes, and the
summary of what was lost (``--json``)."""

from __future__ import annotations

import os
import statistics
from datetime import datetime

from class_procs import Sample

LIVE_P99_MS, BOARD_S = 200.0, 1.0
KINDS = ("henaserver", "program")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ended_at(run: dict) -> float:
    return datetime.fromisoformat(run["ended_at"]).timestamp()


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


def _spread(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):.0f} ms, p99 {percentile(values, 0.99):.0f} ms, "
            f"max {max(values):.0f} ms ({len(values)} rows)")


def _cpu(samples: list[tuple[str, Sample]], phase: str) -> str:
    """CPU over a phase in % of one core (first to last sample): daphne's, and its
    descendants' (the sandboxes, relays...; those alive through the phase)."""
    inside = [s for p, s in samples if p == phase]
    if len(inside) < 2 or inside[-1].at <= inside[0].at:
        return "n/a"
    first, last = inside[0], inside[-1]
    seconds = last.at - first.at
    return (f"daphne {(last.daphne_cpu - first.daphne_cpu) / seconds * 100:.0f} %, "
            f"sandboxes {(last.children_cpu - first.children_cpu) / seconds * 100:.0f} %")


def _memory(r: dict) -> list[str]:
    lines = ["| moment | daphne RSS | daphne PSS | threads | fds | all processes PSS | "
             "processes | all fds |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    during = [s for phase, s in r["samples"] if phase in ("reloads", "checks")]
    peak = max(during, key=lambda s: s.total_pss_kib, default=None)
    most = max((s.daphne_threads for s in during), default=0)
    for name, s in (("idle, no class", r["idle"]),
                    (f"{r['students']} sandboxes running", r["started"]),
                    ("+ viewers and the board", r["viewing"]), ("class: peak PSS", peak),
                    ("after the class", r["end"])):
        if s is not None:
            count = 1 + sum(p[0] for p in s.parts.values())
            lines.append(f"| {name} | {_mib(s.daphne_rss_kib)} | {_mib(s.daphne_pss_kib)} | "
                         f"{s.daphne_threads} | {s.daphne_fds} | {_mib(s.total_pss_kib)} | "
                         f"{count} | {s.all_fds} |")
    s, half = r["viewing"], r["students"] / 2
    parts = s.parts
    program = sum(parts[p][2] for p in ("relay", "bwrap", "launcher", "program"))
    lines.append(
        f"per sandbox (PSS): henaserver {_mib(parts['henaserver'][2] / half)} (RSS "
        f"{_mib(parts['henaserver'][1] / half)}); program {_mib(program / half)} = "
        + " + ".join(f"{p} {_mib(parts[p][2] / half)}"
                     for p in ("bwrap", "launcher", "program", "relay"))
        + f"; daphne's own growth per student (sandbox, viewer): "
        f"{_mib((s.daphne_pss_kib - r['idle'].daphne_pss_kib) / r['students'])}; "
        f"daphne threads at most {most}; other processes: {parts['other'][0]}")
    lines.append(f"CPU (% of one core): reloads only: {_cpu(r['samples'], 'reloads')}; "
                 f"with the checks: {_cpu(r['samples'], 'checks')}")
    for kind, values in r["start_ms"].items():
        if values:
            lines.append(f"start to running ({kind}): median {statistics.median(values):.0f} "
                         f"ms, max {max(values):.0f} ms")
    return lines


def _live(r: dict) -> list[str]:
    rows, alone = r["rows"], r["alone"]
    if not rows or not alone:
        return ["live: no rows measured"]
    sent = [x[2] for x in rows]
    answered = [x[3] for x in rows]
    p99, ours = percentile(sent, 0.99), percentile(answered, 0.99)
    lines = [f"live, request sent -> its row on the student's traffic websocket: "
             f"{_spread(sent)}, {r['missing']} rows missing, {r['failures']} failed answers; "
             f"the playground's part (answer read -> row): {_spread(answered)}",
             f"  one student alone first (the reference, same run): {_spread(alone)}; class/"
             f"alone at p99: {p99 / percentile(alone, 0.99):.1f}x (from the send), "
             f"{ours / percentile(alone, 0.99):.1f}x (the playground's part)"]
    for phase in ("reloads", "checks"):
        for kind in KINDS:
            some = [x for x in rows if x[0] == kind and x[1] == phase]
            if some:
                lines.append(f"  {phase:7} {kind:10}: from the send {_spread([x[2] for x in some])}"
                             f"; the playground's part {_spread([x[3] for x in some])}")
    lines.append("  slowest: " + ", ".join(
        f"{x[4]} ({x[0]}, {x[1]}) {x[2]:.0f} ms, {x[3]:.0f} ms after its answer"
        for x in sorted(rows, key=lambda x: -x[2])[:4]))
    lines.append(f"live goal p99 <= {LIVE_P99_MS:g} ms: from the send "
                 f"{'met' if p99 <= LIVE_P99_MS else 'NOT met'}, the playground's part "
                 f"{'met' if ours <= LIVE_P99_MS else 'NOT met'}")
    return lines


def _board(r: dict) -> list[str]:
    lines = []
    runs = r["runs"]
    if runs:
        took = [ended_at(x) - datetime.fromisoformat(x["started_at"]).timestamp()
                for x in runs if x.get("ended_at")]
        states = {st: sum(x["state"] == st for x in runs) for st in {x["state"] for x in runs}}
        lines.append(f"check runs: {len(runs)}, states {states}" + (
            f", each took median {statistics.median(took):.1f} s, max {max(took):.1f} s"
            if took else ""))
    if r["board_error"]:
        return lines + [f"board: not measured ({r['board_error']})"]
    for name, values in (("a sandbox started", r["board_starts"]),
                         ("a check run ended", r["board_checks"])):
        if values:
            ms = [v * 1000 for v in values]
            lines.append(f"board ({name} -> its row): {len(values)} changes, median "
                         f"{statistics.median(ms):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms, "
                         f"max {max(ms):.0f} ms")
    worst = max(r["board_starts"] + r["board_checks"], default=float("inf"))
    ok = worst <= BOARD_S and not r["board_unseen"]
    lines.append(f"board: {r['board_unseen']} changes never shown; goal every change "
                 f"<= {BOARD_S:g} s: {'met' if ok else 'NOT met'}")
    return lines


def report(r: dict) -> str:
    lines = [f"class of {r['students']}: {r['seconds']:g} s of reloads (3 files every "
             f"{r['interval']:g} s +- 50 %), the second half with one check run each, "
             f"staggered; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
             "at the end"]
    if "class_ended" in r:  # the reloads go on until every check run has ended
        lines.append(f"the class (reloads) lasted {r['class_ended'] - r['class_began']:.0f} s: "
                     "until the last check run ended")
    if r["errors"]:
        lines.append(f"ERRORS ({len(r['errors'])}): " + "; ".join(r["errors"][:5]))
    return "\n".join(lines + _memory(r) + _live(r) + _board(r))


def summary(r: dict) -> dict:
    """What was lost or refused, and what was counted (``--json``; the test reads it)."""
    s = r["viewing"]
    return {"errors": r["errors"], "missing_rows": r["missing"],
            "failed_answers": r["failures"], "board_error": r["board_error"],
            "board_unseen": r["board_unseen"],
            "board_changes": len(r["board_starts"]) + len(r["board_checks"]),
            "live_rows": {kind: sum(x[0] == kind for x in r["rows"]) for kind in KINDS},
            "processes": {part: row[0] for part, row in s.parts.items()},
            "run_states": sorted(x["state"] for x in r["runs"])}
