"""The claim that keeps one broadcast per class (classes/broadcast_claim.py), on the
database the tests use: taken once, renewed and released only by its holder, and
taken over once stale (a process that died mid-broadcast never released it). The
same claim over two real processes on PostgreSQL: test_broadcast_postgres.py."""

from __future__ import annotations

import pytest
from django.utils import timezone
from testkit.boards import classroom, teacher

from playground.class_models import Classroom
from playground.classes.broadcast_claim import STALE, claim

pytestmark = pytest.mark.django_db


def test_one_holder_at_a_time_and_free_after_release():
    room = classroom(teacher("sato"))
    held = claim(room.pk)
    assert held is not None
    assert claim(room.pk) is None
    held.renew()
    assert claim(room.pk) is None
    held.release()
    assert Classroom.objects.get(pk=room.pk).broadcast_started_at is None
    assert claim(room.pk) is not None


def test_a_stale_claim_is_taken_over_and_its_old_holder_cannot_free_it():
    room = classroom(teacher("sato"))
    dead = claim(room.pk)
    assert dead is not None
    long_ago = timezone.now() - STALE - STALE
    Classroom.objects.filter(pk=room.pk).update(broadcast_started_at=long_ago)
    dead.at = long_ago  # as the dead process last wrote it
    new = claim(room.pk)
    assert new is not None
    dead.release()  # a late finally of the old holder
    dead.renew()
    assert claim(room.pk) is None  # still the new holder's
    new.release()
    assert claim(room.pk) is not None


def test_another_class_is_not_held():
    sato = teacher("sato")
    assert claim(classroom(sato).pk) is not None
    assert claim(classroom(sato, name="HTTP 2", code="EFGH6789").pk) is not None
