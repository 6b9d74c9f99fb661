"""The check engine: runs the stages against a server over real sockets.

No database here: the site (runs.py) gives a ``Target`` and callbacks, and gets one
``Outcome`` per check as it finishes. The engine writes the run's generated files into
the server's folder first and always removes them after; it runs every check of
stages 1..``through`` in order (a failed stage does not stop the later ones: the page
shows the whole picture), gives each check a deadline (its own timeout, and at most
``STAGE_TIMEOUT`` for a whole stage), and stops between checks, or inside a read, when
``cancelled`` is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from playground.refusals import Message, Refusal, gettext_noop

from .context import Check, Context, Stage
from .inputs import GeneratedFiles
from .results import Cancelled, CheckFailed, Failure, Outcome, Sent, Target
from .stages import STAGES

# The names the site uses, from one place (checks import the modules below instead:
# this one imports the stage list, so a check importing it would make a cycle).
__all__ = ["STAGE_TIMEOUT", "STAGES", "Check", "CheckFailed", "Context", "Failure",
           "Outcome", "Sent", "Stage", "Target", "reached", "reached_by", "run"]

log = logging.getLogger("playground.checking")

# A whole stage never takes longer than this (the "never stuck").
STAGE_TIMEOUT = 15.0
# A check still running this long after its deadline is failed and left behind.
OVERRUN_GRACE = 1.0
# How much of a failure's bytes an Outcome keeps.
RECEIVED_CAP = 2048

CHECK_CRASHED = gettext_noop("The check could not finish: %(error)s")
CHECK_OVERRAN = gettext_noop("The check took longer than its %(seconds)s seconds.")
STAGE_OVERRAN = gettext_noop("Not run: the stage's earlier checks used up its "
                             "%(seconds)s seconds.")
NO_FILES = gettext_noop("Could not write the check's files into %(folder)s: %(error)s")


def _ignore(*args: Any) -> None:
    return None


def reached(outcomes: Iterable[Outcome], stages: Sequence[Stage] = STAGES) -> int:
    """The highest N such that every check of stages 1..N ran and passed (0: none)."""
    return reached_by(((o.stage, o.passed) for o in outcomes), stages)


def reached_by(results: Iterable[tuple[int, bool]], stages: Sequence[Stage] = STAGES) -> int:
    """``reached`` from (stage, passed) pairs: the one rule, for outcomes as they finish
    and for a run's stored results alike. A stage whose checks did not all run (a run
    stopped midway) is not reached."""
    passed: dict[int, int] = {}
    for stage_number, ok in results:
        if ok:
            passed[stage_number] = passed.get(stage_number, 0) + 1
    n = 0
    for stage in stages:
        if passed.get(stage.number, 0) < len(stage.checks):
            break
        n = stage.number
    return n


def run(target: Target, *, through: int = 12,
        on_outcome: Callable[[Outcome], None] = _ignore,
        on_connect: Callable[[int, int, str], None] = _ignore,
        cancelled: threading.Event | None = None,
        stages: Sequence[Stage] = STAGES,
        stage_timeout: float = STAGE_TIMEOUT) -> list[Outcome]:
    """Run stages 1..``through`` against ``target``; see the module docstring.
    Refusal when the files cannot be written into ``target.docroot``."""
    cancelled = cancelled or threading.Event()
    files = GeneratedFiles.make()
    outcomes: list[Outcome] = []
    shared: dict[str, Any] = {}
    try:
        try:
            files.write(target.docroot)
        except OSError as error:
            raise Refusal(NO_FILES, folder=target.docroot,
                          error=error.strerror or str(error)) from None
        for stage in stages:
            if stage.number > through:
                break
            stage_end = time.monotonic() + stage_timeout
            for place, check in enumerate(stage.checks, start=1):
                if cancelled.is_set():
                    return outcomes
                ctx = Context(target, files, stage=stage.number,
                              label=f"{stage.number}.{place}",
                              deadline=min(time.monotonic() + check.timeout, stage_end),
                              on_connect=on_connect, cancelled=cancelled, shared=shared)
                outcome = (_run_check(stage, check, ctx) if ctx.remaining() > 0
                           else _not_run(stage, check, ctx, stage_timeout))
                if outcome is None:  # cancelled inside the check
                    return outcomes
                outcomes.append(outcome)
                on_outcome(outcome)
        return outcomes
    finally:
        files.remove()


def _run_check(stage: Stage, check: Check, ctx: Context) -> Outcome | None:
    """Run one check in a thread of its own, so that even a check that forgot a
    deadline cannot hold the run past it (its sockets time out on their own)."""
    result: dict[str, Any] = {}
    started = time.monotonic()

    def body() -> None:
        try:
            result["failure"] = check.run(ctx)
        except CheckFailed as failed:
            result["failure"] = failed.failure
        except Cancelled:
            result["cancelled"] = True
        except Exception as error:  # a bug in a check must not end the run
            log.exception("check %s crashed", ctx.label)
            result["failure"] = Failure(Message(CHECK_CRASHED, error=repr(error)))
        finally:
            ctx.close_all()

    worker = threading.Thread(target=body, name=f"check {ctx.label}", daemon=True)
    worker.start()
    worker.join(max(0.0, ctx.deadline - time.monotonic()) + OVERRUN_GRACE)
    if worker.is_alive():
        ctx.close_all()
        result = {"failure": Failure(Message(CHECK_OVERRAN, seconds=check.timeout))}
    if result.get("cancelled") or (ctx.cancelled.is_set() and "failure" not in result):
        return None
    failure: Failure | None = result.get("failure")
    if failure is not None:
        failure = replace(failure, received=failure.received[:RECEIVED_CAP],
                          console=failure.console or _console(ctx.target))
    return Outcome(stage=stage.number, check=check.slug, label=ctx.label,
                   title=Message(check.title), passed=failure is None, failure=failure,
                   sent=tuple(ctx.sent), seconds=round(time.monotonic() - started, 3))


def _not_run(stage: Stage, check: Check, ctx: Context, seconds: float) -> Outcome:
    """A check left no time by the checks before it in its stage."""
    return Outcome(stage=stage.number, check=check.slug, label=ctx.label,
                   title=Message(check.title), passed=False,
                   failure=Failure(Message(STAGE_OVERRAN, seconds=seconds)), sent=(),
                   seconds=0.0)


def _console(target: Target) -> str:
    try:
        return target.console() or ""
    except Exception:  # the console is a courtesy: never a reason to lose the outcome
        log.exception("reading the console of %s:%s", target.host, target.port)
        return ""
