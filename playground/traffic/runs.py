"""Runs and their counts: one formula the learner can check.

Every start of a sandbox begins a run (models.Run); its exchanges stay when the next run
begins. Each run counts, and so does the whole history (the sum over runs)::

    served = stored + removed + not_recorded

* ``served``: exchanges the server answered (henaserver's own count, exact);
* ``stored``: rows in the database now;
* ``removed``: rows retention removed to stay within its bounds (oldest first);
* ``not_recorded``: exchanges that never reached the database, by reason:
  ``capture_queue_full`` (henaserver's capture queue was full: it dropped the event,
  counted at the source), ``disk_full`` (the database refused the batch),
  ``database_error`` (any other refusal), ``arrived_late`` (the server's last events
  reached the database after the next run had begun numbering, runbook.py),
  ``playground_ended`` (the playground process that ran it died first).

Only ``capture_queue_full`` is not counted one by one here: it is what remains of
``served`` once the others are accounted for, which henaserver's exchange numbers
confirm (each lost one is a gap in seq, docs/events.md). The ingest writer is the only
code that changes these rows (ingest.py); this module reads and words them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from ..models import Run, Sandbox
from ..refusals import Message

log = logging.getLogger(__name__)

CAPTURE_QUEUE_FULL = "capture_queue_full"
DISK_FULL = "disk_full"
DATABASE_ERROR = "database_error"
PLAYGROUND_ENDED = "playground_ended"
ARRIVED_LATE = "arrived_late"  # an old server's tail, after the next run began
# The run-end sentence when its playground process ended.
PROCESS_ENDED = gettext_noop("the playground process that ran it ended")
EARLIER_VERSION = "earlier_version"  # migrations/0008_runs_data.py
# Reason code -> its label: the one source of these words (the runs API sends them
# translated, counts.js shows them). Each is a clause that completes "N were not
# recorded because ..." (Japanese: "...ため"), never a sentence of its own: the run-end
# sentence PROCESS_ENDED is a separate msgid.
REASONS = {
    CAPTURE_QUEUE_FULL: gettext_noop("the server's capture queue was full"),
    DISK_FULL: gettext_noop("the database's disk was full"),
    DATABASE_ERROR: gettext_noop("the database refused to store them"),
    PLAYGROUND_ENDED: gettext_noop("the playground process that ran the server ended"),
    EARLIER_VERSION: gettext_noop("an earlier version of the playground did not keep them"),
    ARRIVED_LATE: gettext_noop("they arrived after the next run had begun"),
}
STOPPED = gettext_noop("the server was stopped")
# Runs kept per sandbox: each start adds one, so a sandbox restarted all day would grow
# its list without end. Beyond this, the oldest runs with no stored exchange left are
# deleted (the totals are then those of the runs listed, which still add up).
RUNS_KEPT = 200


_mismatched: set[tuple[int, int]] = set()  # (run id, excess) already logged


def counts(run: Run) -> dict[str, Any]:
    """COUNTS of one run (docs/api.md): served == stored + removed + not_recorded.

    ``capture_queue_full`` is the remainder only when the server served more than was
    accounted for (its dropped exchanges, seen as seq gaps). The opposite (more rows
    accounted for than the server served) is a counting error of ours: it is logged,
    and served shows what was accounted for, but no reason is invented for it."""
    lost = {code: int(n) for code, n in (run.lost or {}).items() if n}
    accounted = run.stored + run.removed + sum(lost.values())
    if accounted > run.served and (run.pk, accounted - run.served) not in _mismatched:
        _mismatched.add((run.pk, accounted - run.served))
        log.warning("run %s: %d exchanges accounted for, %d served (a counting error)",
                    run.pk, accounted, run.served)
    served = max(run.served, accounted)
    rest = served - accounted
    if rest:
        lost[CAPTURE_QUEUE_FULL] = lost.get(CAPTURE_QUEUE_FULL, 0) + rest
    return {"served": served, "stored": run.stored, "removed": run.removed,
            "not_recorded": sum(lost.values()), "not_recorded_reasons": lost}


def add(total: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """The sum of two COUNTS (a new dict)."""
    reasons = dict(total["not_recorded_reasons"])
    for code, n in more["not_recorded_reasons"].items():
        reasons[code] = reasons.get(code, 0) + n
    return {"served": total["served"] + more["served"],
            "stored": total["stored"] + more["stored"],
            "removed": total["removed"] + more["removed"],
            "not_recorded": total["not_recorded"] + more["not_recorded"],
            "not_recorded_reasons": reasons}


def empty() -> dict[str, Any]:
    return {"served": 0, "stored": 0, "removed": 0, "not_recorded": 0,
            "not_recorded_reasons": {}}


def total(runs: list[Run]) -> dict[str, Any]:
    """COUNTS of all the runs together."""
    result = empty()
    for run in runs:
        result = add(result, counts(run))
    return result


def ended_message(run: Run) -> Message | None:
    if run.ended_at is None:
        return None
    return Message.from_json({"key": run.message or STOPPED, "params": run.message_params})


def to_json(run: Run) -> dict[str, Any]:
    """RUN (docs/api.md), "ended" worded in the active language."""
    message = ended_message(run)
    return {"number": run.number, "mode": run.mode,
            "started_at": run.started_at.isoformat(),
            "ended_at": run.ended_at.isoformat() if run.ended_at else None,
            "ended": message.translate(gettext) if message is not None else "",
            "counts": counts(run)}


def current(sandbox_id: int) -> Run | None:
    """The sandbox's open run (the newest), or None when it is not running."""
    return (Run.objects.filter(sandbox_id=sandbox_id, ended_at__isnull=True)
            .order_by("-number").first())


def stats_counts(sandbox_id: int) -> dict[str, Any]:
    """``{"run": COUNTS of the current (else the latest) run, "all": COUNTS}``."""
    runs = list(Run.objects.filter(sandbox_id=sandbox_id).order_by("number"))
    return {"run": counts(runs[-1]) if runs else empty(), "all": total(runs)}


# ----- changes (the ingest writer only) -------------------------------------------------


def begin(sandbox_id: int, upto: int, mine: set[int] | None = None) -> Run | None:
    """A new run for the sandbox, numbered after every earlier one. An open run left
    behind is closed first: its end never reached the ingest queue, so the playground
    process that ran it ended (reconcile marked the row stopped without telling us).
    Only runs with id <= ``upto`` (those that existed when the start was queued) or in
    ``mine`` are closed: a run another process began since is not ours to end.
    The sandbox's row is locked, so two writers (two processes) number one after the
    other instead of failing on the unique number. None if the sandbox is gone."""
    with transaction.atomic():
        sandbox = Sandbox.objects.select_for_update().filter(pk=sandbox_id).first()
        if sandbox is None:
            return None
        end_open(sandbox_id, upto, mine or set(), Message(PROCESS_ENDED))
        highest = Run.objects.filter(sandbox_id=sandbox_id).aggregate(n=Max("number"))["n"]
        run = Run.objects.create(sandbox_id=sandbox_id, number=(highest or 0) + 1,
                                 mode=sandbox.mode, seq_base=sandbox.last_seq)
        old = (Run.objects.filter(sandbox_id=sandbox_id).order_by("-number")
               .values_list("pk", flat=True)[RUNS_KEPT:])
        Run.objects.filter(pk__in=list(old), stored=0).delete()
    return run


def end_open(sandbox_id: int, upto: int, mine: set[int], message: Message | None
             ) -> list[Run]:
    """End the sandbox's open runs with id <= ``upto`` or in ``mine``; returns them."""
    ended = [run for run in Run.objects.filter(sandbox_id=sandbox_id, ended_at__isnull=True)
             if run.pk <= upto or run.pk in mine]
    for run in ended:
        end(run, message)
    return ended


def end(run: Run, message: Message | None) -> None:
    """Close the run, saying how it ended (None: plain "stopped")."""
    data = message.to_json() if message is not None else {"key": "", "params": {}}
    run.ended_at = timezone.now()
    run.message, run.message_params = data["key"], data["params"]
    run.save(update_fields=["ended_at", "message", "message_params"])


def seqs_of(run: Run, events: list[dict[str, Any]]) -> list[int]:
    """The seq of each exchange event, from henaserver's exchange number (docs/events.md):
    seq = run.seq_base + number, so one henaserver could not record leaves a gap. An
    event without a usable number (older servers, or out of order) takes the next one.
    Advances ``run.last_number`` (saved by the caller)."""
    seqs = []
    for event in events:
        number = event.get("number")
        if not isinstance(number, int) or isinstance(number, bool) \
                or number <= run.last_number:
            number = run.last_number + 1
        run.last_number = number
        seqs.append(run.seq_base + number)
    return seqs
