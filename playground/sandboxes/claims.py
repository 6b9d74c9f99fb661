"""Who may run a sandbox's server, decided by the database: a claim on its row.

Concurrent Start/Stop/Restart/Delete of one sandbox arrive on different threads and
different playground processes; only the database sees them all. So every decision is a
short transaction that locks what it reads (``select_for_update``: a row lock on
PostgreSQL; on SQLite the settings' ``transaction_mode: IMMEDIATE`` makes every
transaction the one writer), and nothing slow (a child starting) happens inside one:

    take     STOPPED/CRASHED --(limit ok)--> STARTING, claim = token, run_by = me
    finish   STARTING (claim still ours)  --> RUNNING, pid       [else: stop our child]
    fail     STARTING (claim still ours)  --> STOPPED, why        [else: nothing]
    release  STARTING/RUNNING             --> STOPPED, claim cleared; returns where the
                                              server was, for the caller to end it

A ``take`` that finds the row STARTING or RUNNING under a live process's claim returns
None: the caller waits for that outcome instead of starting a second server. The
host-wide running limit counts and claims under one PostgreSQL advisory lock (on SQLite
the write transaction already serialises them), so two processes cannot both pass it;
``owner_quota`` does the same for the per-owner sandbox count at creation.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..models import Sandbox
from ..refusals import Refusal
from . import budgets, heartbeat
from .ownership import NO_SUCH_SANDBOX

Status = Sandbox.Status

BUSY = gettext_noop("the playground already runs %(count)s sandboxes, as many as this "
                    "computer allows; stop one of yours or try again later")

HOST_LIMIT = "running"  # the refusal's "limit" key (docs/api.md)

# Names of the advisory locks (PostgreSQL): one for the running limit, one for quotas.
RUNNING_LIMIT_LOCK = "playground.running-limit"
OWNER_QUOTA_LOCK = "playground.owner-quota"


@dataclass(frozen=True)
class Claim:
    """A claim this process holds on a sandbox: only its holder may finish the start."""

    sandbox_id: int
    token: str


@dataclass(frozen=True)
class Released:
    """What a sandbox's row said before a stop released it: where its server was."""

    run_by: str
    claim: str
    pid: int | None
    port: int


def serialise(name: str) -> None:
    """Inside a transaction: wait for every other transaction serialised on ``name``
    (PostgreSQL ``pg_advisory_xact_lock``, released at commit). On SQLite nothing to do:
    an IMMEDIATE transaction is already the only writer."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode())])


def new_token() -> str:
    return secrets.token_hex(12)


def take(sandbox_id: int, limit: int, held: Callable[[Sandbox], bool], token: str,
         **fields: Any) -> Claim | None:
    """Claim the sandbox for a start by this process, as ``token`` (new_token(); the
    caller records it as under way *before*, so that its own threads see the claim as
    held from the moment it commits). None if a live claim holds it (``held(row)``
    says whether the row's claim is still being served). Raises a Refusal (404) if the
    row is gone, (429) past its owner's or address's share (budgets.py), (503) at the
    host's running limit. ``fields`` are set with the claim (a new
    run's counters)."""
    with transaction.atomic():
        serialise(RUNNING_LIMIT_LOCK)
        row = Sandbox.objects.select_for_update().filter(pk=sandbox_id).first()
        if row is None:
            raise Refusal(NO_SUCH_SANDBOX).answer(404)
        if row.is_live and held(row):
            return None
        others = Sandbox.objects.filter(status__in=Sandbox.LIVE_STATUSES,
                                        run_by__in=heartbeat.alive_names()) \
            .exclude(pk=sandbox_id)
        budgets.check_running(row, others)  # the owner's share, the address's (429)
        running = others.count()
        if running >= limit:
            raise Refusal(BUSY, count=running).answer(503, limit=HOST_LIMIT)
        Sandbox.objects.filter(pk=sandbox_id).update(
            status=Status.STARTING, claim=token, run_by=heartbeat.me(), pid=None,
            resume=False, **fields)
        return Claim(sandbox_id, token)


def finish(claim: Claim, pid: int) -> bool:
    """The child listens: RUNNING, if the claim is still ours (else a stop or a delete
    came first, and the caller must stop its child)."""
    with transaction.atomic():
        return bool(Sandbox.objects.filter(pk=claim.sandbox_id, claim=claim.token).update(
            status=Status.RUNNING, pid=pid, started_at=timezone.now()))


def fail(claim: Claim, **fields: Any) -> bool:
    """The child did not start: STOPPED with ``fields`` (why), if the claim is ours."""
    with transaction.atomic():
        return bool(Sandbox.objects.filter(pk=claim.sandbox_id, claim=claim.token).update(
            status=Status.STOPPED, pid=None, claim="", run_by="",
            stopped_at=timezone.now(), **fields))


def release(sandbox_id: int, claim: str | None = None, **fields: Any) -> Released | None:
    """Stop first in the database: the row becomes STOPPED (with ``fields``, the
    message) and loses its claim, so no start in flight can finish. Returns where the
    server was (None if the row was not live, or is gone). With ``claim``, only that
    claim is released (the idle culler's: a newer start since is left alone)."""
    with transaction.atomic():
        row = Sandbox.objects.select_for_update().filter(pk=sandbox_id).first()
        if row is None or not row.is_live or claim not in (None, row.claim):
            return None
        Sandbox.objects.filter(pk=sandbox_id).update(
            status=Status.STOPPED, pid=None, claim="", run_by="", resume=False,
            stopped_at=timezone.now(), **fields)
        return Released(row.run_by, row.claim, row.pid, row.port)


def owner_quota(count: Callable[[], int], limit: int) -> bool:
    """Inside the caller's transaction: True if the owner may create one more sandbox.
    Serialised so that concurrent creations cannot all see room for one."""
    serialise(OWNER_QUOTA_LOCK)
    return count() < limit
