"""Where a sandbox's files live on disk, and the limits that apply to them.

Each sandbox serves ``PLAYGROUND_DATA_DIR/sandboxes/<id>``; writes are also capped by
what the owner's other sandboxes leave of the per-owner disk quota.

Both quotas hold under concurrent uploads, from any number of playground processes:
a write measures the disk and moves its files into place inside ``quota_lock``, a
transaction holding the owner's sandbox rows (``select_for_update``; on SQLite the
transaction itself is the lock, BEGIN IMMEDIATE: settings.DATABASES). Only that step is
serialised; receiving and staging the bytes is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_noop

from ..models import Sandbox
from ..sandboxes.ownership import of_owner
from .sitefiles import Limits, SiteFiles

QUOTA_LEFT = gettext_noop("what is left of your disk quota (all your sandboxes together)")


def root_of(sandbox: Sandbox) -> Path:
    """The sandbox's document root (its server's ``--root``)."""
    return Path(settings.PLAYGROUND_DATA_DIR) / "sandboxes" / str(sandbox.pk)


def files_of(sandbox: Sandbox, *, for_writing: bool = True) -> SiteFiles:
    """The sandbox's files. Only writes need the owner-wide quota, which walks all the
    owner's other sandboxes: listing, reading and deleting pass ``for_writing=False``."""
    root = root_of(sandbox)
    root.mkdir(parents=True, exist_ok=True)
    return SiteFiles(root, limits(sandbox) if for_writing else limits(),
                     commit_guard=lambda: quota_lock(sandbox))


@contextmanager
def quota_lock(sandbox: Sandbox) -> Iterator[Limits]:
    """Hold the owner's sandbox rows (all of them, in one order, so two owners' writes
    never deadlock and one owner's writes to two sandboxes queue up), then yield the
    limits measured now, under the lock."""
    with transaction.atomic():
        owned = of_owner(sandbox.user_id, sandbox.owner_token).values("pk")
        rows = Sandbox.objects.filter(Q(pk=sandbox.pk) | Q(pk__in=owned))
        list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))
        yield limits(sandbox)


def limits(sandbox: Sandbox | None = None) -> Limits:
    """The file limits; for a sandbox, its bytes are also capped by what its owner's
    other sandboxes leave of PLAYGROUND_MAX_OWNER_BYTES (the per-owner disk quota)."""
    per_sandbox = settings.PLAYGROUND_MAX_SANDBOX_BYTES
    cap, name = per_sandbox, Limits.bytes_limit_name
    if sandbox is not None:
        others = of_owner(sandbox.user_id, sandbox.owner_token).exclude(pk=sandbox.pk)
        used = sum(SiteFiles(root_of(o), limits()).usage()[1] for o in others
                   if root_of(o).is_dir())
        left = max(0, settings.PLAYGROUND_MAX_OWNER_BYTES - used)
        if left < cap:
            cap, name = left, QUOTA_LEFT
    return Limits(max_file_bytes=settings.PLAYGROUND_MAX_FILE_BYTES,
                  max_sandbox_bytes=cap, max_files=settings.PLAYGROUND_MAX_FILES,
                  bytes_limit_name=name)
