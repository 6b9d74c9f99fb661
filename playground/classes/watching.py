"""The one change a teacher may make to a student's sandbox: Stop (a server that
misbehaves in class). Everything else a teacher does there is a read
(sandboxes/ownership.get_readable) or refused with 403 (ownership.get_owned)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from ..accounts import shown_name
from ..class_models import TeacherNotice
from ..models import Sandbox
from ..sandboxes import lifecycle
from ..sandboxes.ownership import TEACHER, viewer
from . import notices


def stop(request: HttpRequest, sandbox: Sandbox) -> Sandbox:
    """Stop ``sandbox`` (one this request may read). When its teacher stops it, the
    student is told on the card: once per server stopped, so a double click, or two
    teachers at once, adds one notice, and a stopped sandbox none."""
    if viewer(request, sandbox) != TEACHER:
        return lifecycle.stop(sandbox)
    with transaction.atomic():
        # The row locked, so two stops at once decide one after the other.
        row = Sandbox.objects.select_for_update().filter(pk=sandbox.pk).first()
        if row is not None and row.is_live and not _told_since_start(row):
            notices.record(row, request.user, TeacherNotice.Action.STOPPED)
    return lifecycle.stop(sandbox)


def _told_since_start(row: Sandbox) -> bool:
    """Whether a stop of this server's run is already recorded."""
    told = TeacherNotice.objects.filter(sandbox=row, action=TeacherNotice.Action.STOPPED)
    return told.filter(at__gte=row.started_at).exists() if row.started_at else False


def look(request: HttpRequest, sandbox: Sandbox) -> dict[str, str] | None:
    """What a sandbox's pages need for a teacher's read-only look (the banner's
    student), or None when its owner looks."""
    if viewer(request, sandbox) != TEACHER or sandbox.user is None:
        return None
    return {"student": shown_name(sandbox.user)}
