"""Retention: how much history is kept, and what leaves first.

Bounded per sandbox (``PLAYGROUND_RETENTION_EXCHANGES`` / ``_BYTES``) and per owner
across all their sandboxes (``PLAYGROUND_OWNER_RETENTION_*``). Rows only ever leave
from the oldest end, so the retained history stays contiguous; every row removed is
counted on its run as ``removed`` (runs.py), so the totals still add up.

Counted as *actually* deleted, per run, by each DELETE's own row count, and added with
atomic ``F()`` updates: another playground process may have deleted some of the same
rows already (its owner bound, across sandboxes it does not ingest), and this process's
window (``Kept``) may still list them; counting what was meant to be deleted would
count them twice.

The per-sandbox window is kept in memory by the ingest writer (``Kept``: seq, size and
run of each stored row, oldest first), so deciding what to evict costs no query per
batch. Only the ingest writer calls this module.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Sum

from ..models import Exchange, Run, Sandbox


@dataclass
class Kept:
    """The retained rows of one sandbox as (seq, stored_bytes, run_id), oldest first."""

    rows: collections.deque = field(default_factory=collections.deque)
    total: int = 0

    def add(self, rows: Iterable[Exchange]) -> None:
        for ex in rows:
            self.rows.append((ex.seq, ex.stored_bytes, ex.run_id))
            self.total += ex.stored_bytes


def load(sandbox_id: int) -> Kept:
    """The window as stored (first batch since this process started)."""
    kept = Kept()
    for seq, size, run_id in (Exchange.objects.filter(sandbox_id=sandbox_id).order_by("seq")
                              .values_list("seq", "stored_bytes", "run_id")):
        kept.rows.append((seq, size, run_id))
        kept.total += size
    return kept


def newest_within(events: list[dict[str, Any]], keep_count: int, keep_bytes: int) -> int:
    """Index of the first of ``events`` to store: the newest that fit the window at once.
    The older ones would be removed by this very batch, so they are never decoded and
    count as removed (never a hole in the middle: they are the oldest)."""
    start, budget = len(events), keep_bytes
    while start > 0 and len(events) - start < keep_count:
        ev = events[start - 1]
        size = b64_len(ev.get("request_b64")) + b64_len(ev.get("response_b64"))
        if size > budget:
            break
        budget -= size
        start -= 1
    return start


def evict(sandbox_id: int, kept: Kept, keep_count: int, keep_bytes: int) -> None:
    """Remove the oldest rows until the sandbox is within its bounds."""
    cutoff = None
    while kept.rows and (len(kept.rows) > keep_count or kept.total > keep_bytes):
        cutoff, size, _run_id = kept.rows.popleft()
        kept.total -= size
    if cutoff is not None:
        doomed = Exchange.objects.filter(sandbox_id=sandbox_id, seq__lte=cutoff)
        count_removed({run_id: _delete(doomed.filter(run_id=run_id))
                       for run_id in doomed.order_by().values_list("run_id", flat=True)
                       .distinct()})


def evict_for_owner(sandbox: Sandbox, keep_count: int, keep_bytes: int,
                    windows: dict[int, Kept]) -> None:
    """Remove the owner's oldest rows, across their sandboxes, until the owner is within
    the per-owner bounds. ``windows`` (the writer's in-memory windows) are kept in step."""
    owner = ({"sandbox__user_id": sandbox.user_id} if sandbox.user_id is not None
             else {"sandbox__owner_token": sandbox.owner_token, "sandbox__user__isnull": True})
    rows = Exchange.objects.filter(**owner)
    totals = rows.aggregate(n=Count("id"), size=Sum("stored_bytes"))
    count, size = totals["n"] or 0, totals["size"] or 0
    if count <= keep_count and size <= keep_bytes:
        return
    doomed: collections.defaultdict[int, list[int]] = collections.defaultdict(list)
    # Oldest first across sandboxes: rows are created in order, so the id says which.
    for pk, run_id, sid, stored in rows.order_by("id").values_list(
            "id", "run_id", "sandbox_id", "stored_bytes").iterator(chunk_size=500):
        if count <= keep_count and size <= keep_bytes:
            break
        doomed[run_id].append(pk)
        count, size = count - 1, size - stored
        windows.pop(sid, None)  # reloaded from the table on its next batch
    gone: collections.Counter[int] = collections.Counter()
    for run_id, pks in doomed.items():
        for start in range(0, len(pks), 500):
            gone[run_id] += _delete(Exchange.objects.filter(pk__in=pks[start:start + 500]))
    count_removed(gone)


def _delete(rows: Any) -> int:
    """DELETE ``rows``; how many the database actually deleted (rows another process
    deleted first are not counted again)."""
    return int(rows.delete()[0])  # Exchange has no dependents: one DELETE, its count


def count_removed(gone: dict[int, int]) -> None:
    """Move ``gone`` (run id -> rows actually deleted) from stored to removed."""
    for run_id, n in gone.items():
        if n:
            Run.objects.filter(pk=run_id).update(removed=F("removed") + n,
                                                 stored=F("stored") - n)


def b64_len(value: Any) -> int:
    """Decoded length of a base64 string, without decoding it."""
    if not isinstance(value, str) or not value:
        return 0
    return len(value) * 3 // 4 - value.count("=", -2)
