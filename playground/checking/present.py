"""The JSON of check runs (docs/api.md, "Check my server"): RUN_JSON and Outcome JSON.

Two steps, like a sandbox's status (sandboxes/presenters.py): ``run_facts`` is a run as
data in no language (``as_sent``: as it was when a progress message was sent), and
``run_json`` words it in the active language, per request or per viewer: titles,
failure messages and hints are msgids until here. A run's ``results`` hold each
Outcome as ``outcome_data`` made it: every message as ``{"key", "params"}``, the
received bytes as base64.
"""

from __future__ import annotations

import base64
from typing import Any

from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext

from ..models import CheckRun
from ..refusals import Message
from . import hints
from .engine import Outcome, Stage, reached_by
from .stages import STAGES

# A failure's console tail, in each stored result that has one (the server's last
# words before it died: enough to show a traceback's end, not a whole log).
CONSOLE_CAP = 4096


def stage_count() -> int:
    return len(STAGES)


# ----- Outcome: the engine's result as data, then worded -------------------------------


def outcome_data(outcome: Outcome, seqs: dict[tuple[int, int], int]) -> dict[str, Any]:
    """One Outcome as stored in ``CheckRun.results``; ``seqs`` maps each sent request
    (local port, index) to its exchange's seq (those found in the traffic)."""
    failure = outcome.failure
    data: dict[str, Any] = {
        "stage": outcome.stage, "check": outcome.check, "label": outcome.label,
        "title": _message(outcome.title).to_json(), "passed": outcome.passed,
        "seconds": round(outcome.seconds, 3),
        "exchanges": sorted({seqs[key] for key in
                             ((s.local_port, s.index) for s in outcome.sent) if key in seqs}),
        "failure": None,
    }
    if failure is not None:
        sent = (failure.sent.local_port, failure.sent.index) if failure.sent else None
        data["failure"] = {
            "message": failure.message.to_json(), "expected": failure.expected,
            "received_b64": base64.b64encode(failure.received).decode("ascii"),
            "exchange": seqs.get(sent) if sent else None,
            "side": failure.side, "offset": failure.offset, "hint": failure.hint,
            "console": failure.console[-CONSOLE_CAP:],
        }
    return _storable(data)


def _storable(value: Any) -> Any:
    """``value`` with every NUL character in its text shown as "␀": PostgreSQL's jsonb
    refuses "\\u0000" (the whole row's update fails), and a learner's server may put
    one anywhere: a console line, a status line quoted in a message."""
    if isinstance(value, str):
        return value.replace("\x00", "\N{SYMBOL FOR NULL}")
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def outcome_json(data: dict[str, Any]) -> dict[str, Any]:
    """A stored outcome in the active language (Outcome JSON, docs/api.md)."""
    failure = data.get("failure")
    shown = {**data, "title": _words(data.get("title")), "failure": None}
    if failure:
        received = base64.b64decode(failure.get("received_b64") or "")
        shown["failure"] = {
            "message": _words(failure.get("message")), "expected": failure.get("expected", ""),
            # latin-1: one character per byte, so an offset into it is a byte offset.
            "received": received.decode("latin-1"),
            "received_b64": failure.get("received_b64") or "",
            "exchange": failure.get("exchange"), "side": failure.get("side", "response"),
            "offset": failure.get("offset"), "hint": hint_json(failure.get("hint") or ""),
            "console": failure.get("console", ""),
        }
    return shown


def hint_json(key: str) -> dict[str, Any] | None:
    """A hint in the active language: its key (also its glossary entry's key), text,
    glossary term and RFC link; None for no hint (or one this version does not know)."""
    hint = hints.HINTS.get(key) if key else None
    if hint is None:
        return None
    return {"key": hint.key, "text": gettext(hint.text), "glossary": hint.glossary,
            "rfc": {"label": hint.rfc[0], "url": hint.rfc[1]}}


def _message(title: Message | str) -> Message:
    return title if isinstance(title, Message) else Message(str(title))


def _words(data: Any) -> str:
    return Message.from_json(data).translate(gettext) if isinstance(data, dict) else ""


# ----- stages ----------------------------------------------------------------------------


def stage_json(stage: Stage) -> dict[str, Any]:
    """A stage as the page lists it, in the active language."""
    return {
        "number": stage.number, "slug": stage.slug, "title": gettext(stage.title),
        "summary": gettext(stage.summary),
        "rfc": [{"label": label, "url": url} for label, url in stage.rfc],
        "checks": [{"check": check.slug, "label": f"{stage.number}.{place}",
                    "title": gettext(check.title)}
                   for place, check in enumerate(stage.checks, start=1)],
    }


def stage_list() -> list[dict[str, Any]]:
    return [stage_json(stage) for stage in STAGES]


def _stage_state(stage: Stage, done: list[dict[str, Any]], facts: dict[str, Any],
                 current: int | None) -> str:
    """pending | running | passed | failed | skipped (docs/api.md)."""
    if stage.number > facts["through"]:
        return "skipped"
    failed = any(not outcome["passed"] for outcome in done)
    # Every check done (a stage without checks: once the run went through them all).
    if len(done) >= len(stage.checks) and (done or facts["state"] in ("passed", "failed")):
        return "failed" if failed else "passed"
    if facts["state"] != "running":  # stopped, interrupted, or never begun
        return "failed" if failed else "skipped"
    return "running" if stage.number == current else "pending"


def _stages_json(facts: dict[str, Any]) -> list[dict[str, Any]]:
    by_stage: dict[int, list[dict[str, Any]]] = {}
    for outcome in facts["results"]:
        by_stage.setdefault(outcome["stage"], []).append(outcome)
    # The stage being checked: the first asked for whose checks are not all done.
    current = next((s.number for s in STAGES if s.number <= facts["through"]
                    and len(by_stage.get(s.number, [])) < len(s.checks)), None)
    shown = []
    for stage in STAGES:
        done = by_stage.get(stage.number, [])
        shown.append({
            **{key: value for key, value in stage_json(stage).items() if key != "checks"},
            "state": _stage_state(stage, done, facts, current),
            "total": len(stage.checks),
            "checks": [outcome_json(outcome) for outcome in done],
        })
    return shown


# ----- a run -------------------------------------------------------------------------------


def best_of(sandbox_id: int) -> int:
    """The highest stage reached over the sandbox's kept runs."""
    return CheckRun.objects.filter(sandbox_id=sandbox_id).aggregate(
        best=Max("reached"))["best"] or 0


def run_facts(run: CheckRun, best: int | None = None) -> dict[str, Any]:
    """A run as data, in no language (its results are data already)."""
    message = (Message.from_json({"key": run.message, "params": run.message_params})
               if run.message else None)
    return {
        "id": run.pk, "sandbox": run.sandbox_id, "number": run.number, "state": run.state,
        "through": run.through, "reached": run.reached,
        "best": best_of(run.sandbox_id) if best is None else best,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "message": message.to_json() if message else None,
        "results": list(run.results),
    }


def reached(results: list[dict[str, Any]]) -> int:
    """The stage a run's stored results reached (engine.reached_by: the one rule)."""
    return reached_by((outcome["stage"], outcome["passed"]) for outcome in results)


def as_sent(run: CheckRun, state: str, count: int | None) -> dict[str, Any]:
    """``run_facts`` as they were when a ``checks.progress`` message was sent: while
    it ran, its first ``count`` outcomes (the row may be further on by the time a viewer
    reads it: each message still shows one more outcome than the one before)."""
    facts = run_facts(run)
    if state != CheckRun.State.RUNNING or count is None:
        return facts
    results = facts["results"][:count]
    return {**facts, "state": state, "ended_at": None, "message": None,
            "results": results, "reached": reached(results)}


def run_json(facts: dict[str, Any], outcomes: bool = True) -> dict[str, Any]:
    """RUN_JSON (docs/api.md) of ``run_facts`` in the active language; without its
    ``stages`` (the outcomes) when not ``outcomes``: a run in brief, as lists show it."""
    args = [facts["sandbox"], facts["number"]]
    shown = {
        "id": facts["id"], "number": facts["number"], "state": facts["state"],
        "through": facts["through"], "reached": facts["reached"], "best": facts["best"],
        "started_at": facts["started_at"], "ended_at": facts["ended_at"],
        # Why it ended early (not running, stopped, its process ended), or null.
        "message": _words(facts["message"]) or None,
        "links": {"self": reverse("playground:api-check", args=args),
                  "stop": reverse("playground:api-check-stop", args=args)},
    }
    if outcomes:
        shown["stages"] = _stages_json(facts)
    return shown
