"""The class board's rows, as data (docs/classes.md "The class board", docs/api.md).

One row per student of a class: their sandboxes and each one's status, the stage the
checks reached, the newest check run and the newest failure with a link to the exchange
that shows it. The API, the page and the board's websocket all build rows here, so a
row looks the same however it arrives. Worded in the active language (the caller picks
it: the request's, or the teacher's for a websocket).

A whole board is a handful of queries whatever the class size (each kind of fact is
read for every student at once), so the board of a class of 60 opens as fast as one of 6.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext

from ..accounts import shown_name
from ..class_models import Classroom, Membership
from ..models import CheckRun, Sandbox
from ..refusals import Message
from ..sandboxes.presenters import STATUS_WORDS
from . import codes

FINISHED = (CheckRun.State.PASSED, CheckRun.State.FAILED, CheckRun.State.STOPPED,
            CheckRun.State.INTERRUPTED)


def class_json(classroom: Classroom) -> dict[str, Any]:
    """The class, its join code as students read it (XXXX-XXXX, codes.py)."""
    return {"id": classroom.pk, "name": classroom.name,
            "join_code": codes.display(classroom.join_code)}


def board_json(classroom: Classroom) -> dict[str, Any]:
    """The whole board: the class and a row per student, in the order they joined."""
    return {"class": class_json(classroom), "students": rows(classroom)}


def student_row(classroom: Classroom, user_id: int) -> dict[str, Any] | None:
    """One student's row, or None when they are not (or no longer) in the class."""
    found = rows(classroom, [user_id])
    return found[0] if found else None


def rows(classroom: Classroom, only: list[int] | None = None) -> list[dict[str, Any]]:
    """The rows of the class's students (of those in ``only``, when given)."""
    members = Membership.objects.filter(classroom=classroom)
    if only is not None:
        members = members.filter(user_id__in=only)
    joined = {user_id: at for user_id, at in members.values_list("user_id", "joined_at")}
    users = get_user_model().objects.filter(pk__in=joined).order_by("username")
    ids = list(joined)
    sandboxes: dict[int, list[Sandbox]] = defaultdict(list)
    for sandbox in Sandbox.objects.filter(user_id__in=ids).order_by("created_at", "id"):
        sandboxes[sandbox.user_id].append(sandbox)
    best, newest = _runs(ids)
    return [_row(user, joined[user.pk], sandboxes[user.pk], best.get(user.pk) or 0,
                 newest.get(user.pk, (None, None))) for user in users]


def _runs(ids: list[int]) -> tuple[dict[int, int],
                                    dict[int, tuple[CheckRun | None, CheckRun | None]]]:
    """For each student, from one pass over their check runs: the best stage reached,
    and their newest run (running or not) and newest finished one. The results (up to
    ~10 KB per failed check) are read only for those two."""
    best: dict[int, int] = {}
    newest: dict[int, list[Any]] = {}
    runs = (CheckRun.objects.filter(sandbox__user_id__in=ids).order_by("-started_at", "-id")
            .values_list("pk", "sandbox__user_id", "state", "reached"))
    for pk, user_id, state, reached in runs:  # KEEP_RUNS per sandbox: a bounded list
        best[user_id] = max(best.get(user_id, 0), reached)
        pair = newest.setdefault(user_id, [pk, None])
        if pair[1] is None and state in FINISHED:
            pair[1] = pk
    wanted = {pk for pair in newest.values() for pk in pair if pk is not None}
    loaded = CheckRun.objects.in_bulk(wanted)
    return best, {user_id: (loaded.get(last), loaded.get(done) if done else None)
                  for user_id, (last, done) in newest.items()}


def _row(user: Any, joined_at: datetime, sandboxes: list[Sandbox], best: int,
         newest: tuple[CheckRun | None, CheckRun | None]) -> dict[str, Any]:
    last, finished = newest
    times = [joined_at] + [t for s in sandboxes for t in (s.created_at, s.started_at,
                                                           s.stopped_at) if t]
    times += [t for run in (last, finished) if run for t in (run.started_at, run.ended_at) if t]
    return {
        "id": user.pk,
        "username": user.username,
        "name": shown_name(user),
        "sandboxes": [sandbox_json(s) for s in sandboxes],
        "reached": best,
        "stuck_on": _stuck_on(finished),
        "last_check": _check_json(last),
        "last_failure": _failure_json(finished),
        "changed_at": max(times).isoformat(),
    }


def sandbox_json(sandbox: Sandbox) -> dict[str, Any]:
    """A sandbox as its row shows it: status, and the teacher's links to it (the
    read-only look of docs/classes.md)."""
    return {
        "id": sandbox.pk, "name": sandbox.name, "kind": sandbox.kind,
        "status": sandbox.status, "status_text": gettext(STATUS_WORDS[sandbox.status]),
        "port": sandbox.port,
        "links": {"page": reverse("playground:sandbox-page", args=[sandbox.pk]),
                  "traffic": reverse("playground:traffic-page", args=[sandbox.pk])},
    }


def _check_json(run: CheckRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"sandbox": run.sandbox_id, "number": run.number, "state": run.state,
            "reached": run.reached, "through": run.through,
            "ended_at": run.ended_at.isoformat() if run.ended_at else None}


def _first_failure(run: CheckRun | None) -> dict[str, Any] | None:
    """The first failed check of a finished run, in stage order (results are stored in
    the order the checks finished)."""
    if run is None:
        return None
    failed = [o for o in run.results if not o.get("passed")]
    return min(failed, key=lambda o: (o.get("stage", 0), o.get("label", ""))) if failed else None


def _stuck_on(run: CheckRun | None) -> int | None:
    first = _first_failure(run)
    return first["stage"] if first else None


def _failure_json(run: CheckRun | None) -> dict[str, Any] | None:
    """The newest failure and the link that shows it: the traffic page opened on the
    exchange with a caret on the byte, as the checks' "Show the byte" link does
    (static/playground/js/checks.js, deeplink.js). No link when no exchange shows it
    (the server never answered on that connection)."""
    outcome = _first_failure(run)
    if run is None or outcome is None:
        return None
    failure = outcome.get("failure") or {}
    message = failure.get("message")
    text = Message.from_json(message).translate(gettext) if isinstance(message, dict) else ""
    link = None
    if failure.get("exchange") is not None:
        query = {"exchange": failure["exchange"]}
        if failure.get("offset") is not None:
            query["mark"] = f"{failure.get('side') or 'response'}:{failure['offset']}"
            query["check"] = outcome.get("label", "")
        link = reverse("playground:traffic-page", args=[run.sandbox_id]) + "?" + urlencode(query)
    return {"sandbox": run.sandbox_id, "check": outcome.get("label", ""), "message": text,
            "link": link}
