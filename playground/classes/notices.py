"""What a teacher did to a student's sandbox, as the student reads it on the sandbox's
card (class_models.TeacherNotice): kept as data, worded here in the language of
whoever looks, like every stored message (docs/i18n.md)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.translation import gettext, gettext_noop

from ..accounts import shown_name
from ..class_models import TeacherNotice

# A card shows this many, newest first; older ones stay in the admin.
SHOWN = 5

WORDING = {
    TeacherNotice.Action.STOPPED: gettext_noop(
        "Stopped by your teacher %(teacher)s at %(time)s"),
    TeacherNotice.Action.BROADCAST: gettext_noop(
        "Your teacher %(teacher)s sent it a request at %(time)s"),
}


def record(sandbox: Any, teacher: Any, action: str) -> TeacherNotice:
    """Write down that ``teacher`` did ``action`` to ``sandbox`` (by name too: the
    notice stays true when the teacher's account goes)."""
    return TeacherNotice.objects.create(sandbox=sandbox, teacher=teacher,
                                        teacher_name=shown_name(teacher), action=action)


def to_json(notice: TeacherNotice) -> dict[str, Any]:
    """One notice for the sandbox JSON, worded in the active language. The time is the
    site's (settings.TIME_ZONE, which a classroom deployment sets to its own)."""
    time = format_date(timezone.localtime(notice.at), "H:i")
    template = WORDING.get(notice.action)
    text = gettext(template) % {"teacher": notice.teacher_name, "time": time} \
        if template else notice.action
    return {"action": notice.action, "teacher": notice.teacher_name,
            "at": notice.at.isoformat(), "text": text}


def newest(sandbox: Any) -> list[dict[str, Any]]:
    """The newest notices of a sandbox, newest first: from the list's one query when it
    was fetched with ``PREFETCH``, else a query of its own."""
    rows = getattr(sandbox, PREFETCH.to_attr, None)
    if rows is None:
        rows = sandbox.teacher_notices.order_by("-at", "-id")[:SHOWN]
    return [to_json(notice) for notice in rows]


# For a list of sandboxes (the home page polls it every second): the newest notices of
# all of them in one query, not one per sandbox. A sliced prefetch needs its own
# attribute (Django filters a related manager's queryset, which a slice forbids).
PREFETCH = Prefetch("teacher_notices", to_attr="newest_notices",
                    queryset=TeacherNotice.objects.order_by("-at", "-id")[:SHOWN])
