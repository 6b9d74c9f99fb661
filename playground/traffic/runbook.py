"""Which run an event belongs to, for the ingest writer (ingest.py): never simply the
newest.

Every child the supervisor runs carries a tag, the playground's claim for that start
(sandboxes/claims.py), and every event arrives with it. The ``run`` control item that
``lifecycle.launch`` queues before the child starts carries the same tag, so the writer
maps tag -> run when it creates the run. An event is stored in its own server's run,
however late it arrives: a Stop or Restart that ran ahead of an old server's last events
(a slow writer, or another playground process, docs/runs.md) can no longer put them in
the newer run, shift its numbering or inflate its counts.

A late tail can still collide with a newer run's seqs (seq = run.seq_base + number,
and the newer run's base was taken before the tail was written): ``newer_base`` finds
where the newer run's seqs begin; what is beyond it is not stored but counted in its own
run as ``arrived_late`` (runs.py), never shifted.

Control items also carry the highest run id that existed when they were queued
(``newest_id``): a status change ends only runs that existed then, or that this writer
created from items queued before it, never a run another process began since.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Max

from ..models import Run, Sandbox
from . import runs

DISK_FULL_SQLSTATE = "53100"  # PostgreSQL's disk_full
TAGS_KEPT = 8  # tags remembered per sandbox: the current start and a few late tails


class RunBook:
    """The writer thread's map (sandbox, tag) -> run id, and its debts: exchanges the
    database refused whose count is not written yet (by run tag)."""

    def __init__(self) -> None:
        self._runs: dict[int, collections.OrderedDict[str, int]] = {}
        self.owed: collections.defaultdict[tuple[int, str], collections.Counter[str]] = \
            collections.defaultdict(collections.Counter)
        # ... and the highest exchange number among them (served, once written).
        self.owed_upto: dict[tuple[int, str], int] = {}

    def owe(self, sid: int, tag: str, reason: str, events: list[dict[str, Any]]) -> None:
        """The database refused ``events`` and even their count: keep it for later."""
        self.owed[(sid, tag)][reason] += len(events)
        numbers = [e["number"] for e in events if type(e.get("number")) is int]
        self.owed_upto[(sid, tag)] = max([self.owed_upto.get((sid, tag), 0), *numbers])

    def pay(self, run: Run, sid: int, tag: str) -> None:
        """Add what is owed for (sid, tag) to ``run`` (saved by the caller): lost by
        reason, and served up to their highest number (their seqs stay a gap). Still
        owed until ``paid`` (after the commit: the transaction may yet fail)."""
        add_lost(run, self.owed.get((sid, tag), {}))
        run.last_number = max(run.last_number, self.owed_upto.get((sid, tag), 0))
        run.served = max(run.served, run.last_number)

    def paid(self, sid: int, tag: str) -> None:
        self.owed.pop((sid, tag), None)
        self.owed_upto.pop((sid, tag), None)

    def note(self, sid: int, tag: str, run_id: int) -> None:
        tags = self._runs.setdefault(sid, collections.OrderedDict())
        tags[tag] = run_id
        tags.move_to_end(tag)
        while len(tags) > TAGS_KEPT:
            tags.popitem(last=False)

    def mine(self, sid: int) -> set[int]:
        """Ids of the runs this writer created for the sandbox (still remembered)."""
        return set(self._runs.get(sid, {}).values())

    def forget(self, sid: int) -> None:
        self._runs.pop(sid, None)
        for key in [k for k in self.owed if k[0] == sid]:
            del self.owed[key]
            self.owed_upto.pop(key, None)

    def run_for(self, sid: int, tag: str) -> Run | None:
        """The run of ``tag``'s server, locked for this transaction (its counters are
        changed by read-modify-write below, and another process's retention may update
        them meanwhile). An event with no tag (tests feeding events by hand) goes to the
        newest run; a tag this writer never saw begin (its ``run`` item failed) begins
        a run of its own. None if the sandbox is gone."""
        run_id = self._runs.get(sid, {}).get(tag) if tag else None
        rows = Run.objects.select_for_update()
        run = rows.filter(pk=run_id).first() if run_id is not None else None
        if run is None and not tag:
            run = rows.filter(sandbox_id=sid).order_by("-number").first()
        if run is None:
            # Closes only this writer's own open runs: an open run of another
            # process's server is not ours to end.
            begun = runs.begin(sid, 0, self.mine(sid))
            if begun is None:
                return None
            if tag:
                self.note(sid, tag, begun.pk)
            run = rows.get(pk=begun.pk)
        return run

    def settle(self, sid: int) -> None:
        """Write what is owed for the sandbox's runs now: its server stopped, so no
        later batch may come to carry the count."""
        for sid_tag in [k for k in self.owed if k[0] == sid]:
            with transaction.atomic():
                run = self.run_for(*sid_tag)
                if run is not None:
                    self.pay(run, *sid_tag)
                    run.save(update_fields=["lost", "last_number", "served"])
            self.paid(*sid_tag)


def refusal_reason(exc: DatabaseError) -> str:
    """Why the database refused a batch, by the driver's error code (never its English
    text): ``disk_full`` for SQLite's SQLITE_FULL (``sqlite_errorcode``, Python 3.11) or
    PostgreSQL's SQLSTATE 53100 (psycopg's ``sqlstate``), else ``database_error``.
    Django keeps the driver's error as ``__cause__``."""
    cause = exc.__cause__
    full = (getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(cause, "sqlstate", None) == DISK_FULL_SQLSTATE)
    return runs.DISK_FULL if full else runs.DATABASE_ERROR


def newest_id(sid: int) -> int:
    """The highest run id of the sandbox now (0: none), captured when an item is queued."""
    return Run.objects.filter(sandbox_id=sid).aggregate(n=Max("pk"))["n"] or 0


def claim_of(sid: int) -> str:
    """The row's claim now: the tag of the start that is queueing its run."""
    return Sandbox.objects.filter(pk=sid).values_list("claim", flat=True).first() or ""


def newer_base(run: Run) -> int | None:
    """The seq base of the run that began after ``run`` (None: ``run`` is the newest).
    A late tail of ``run`` may be stored only up to it (seqs beyond are the newer
    run's)."""
    return (Run.objects.filter(sandbox_id=run.sandbox_id, number__gt=run.number)
            .order_by("number").values_list("seq_base", flat=True).first())


def add_lost(run: Run, counts: dict[str, int] | collections.Counter[str]) -> None:
    """Add ``counts`` (reason -> exchanges) to the run's ``lost`` (saved by the caller)."""
    lost: dict[str, Any] = dict(run.lost or {})
    for reason, n in counts.items():
        if n:
            lost[reason] = int(lost.get(reason, 0)) + n
    run.lost = lost
