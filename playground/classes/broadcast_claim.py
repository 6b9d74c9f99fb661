"""One broadcast per class at a time, across every playground process: a teacher's
double click may reach two daphne processes (several run behind one address on
PostgreSQL), so a lock in one process's memory would let both send.

The claim is a conditional UPDATE of ``Classroom.broadcast_started_at``: it sets the
time only where none is set (or the one set is stale), and the database runs it
atomically, so of two processes claiming at once exactly one changes a row. The
broadcast renews it as its answers come, and releases it when it ends (``finally``).
If a process dies mid-broadcast nothing releases it: a claim not renewed for STALE
is taken over, so a class is never locked for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..class_models import Classroom
from ..compose import composer

# Longer than any pause between two renewals: one answer (its reference server's
# start, then at most the composer's bound, then the wait for the stored exchange)
# comes within it, with room to spare on a loaded machine.
STALE = timedelta(seconds=2 * (settings.PLAYGROUND_START_TIMEOUT + composer.TOTAL_TIMEOUT)
                  + 60)


class Claim:
    """This process's claim on a class; ``renew`` and ``release`` touch only the row
    while the claim is still ours (the time we wrote is still there)."""

    def __init__(self, class_id: int, at: datetime) -> None:
        self.class_id = class_id
        self.at = at

    def _mine(self) -> QuerySet[Classroom]:
        return Classroom.objects.filter(pk=self.class_id, broadcast_started_at=self.at)

    def renew(self) -> None:
        now = timezone.now()
        if self._mine().update(broadcast_started_at=now):
            self.at = now

    def release(self) -> None:
        self._mine().update(broadcast_started_at=None)


def claim(class_id: int) -> Claim | None:
    """The class for one broadcast, or None when another one holds it."""
    now = timezone.now()
    free = Q(broadcast_started_at__isnull=True) | Q(broadcast_started_at__lt=now - STALE)
    taken = Classroom.objects.filter(free, pk=class_id).update(broadcast_started_at=now)
    return Claim(class_id, now) if taken else None
