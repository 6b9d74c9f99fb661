"""``/api/classes/<id>/broadcast/`` (docs/api.md, "One request to everyone").

GET: the composer's presets and how many students' sandboxes are running now. POST:
the composer's body (``request_b64``, ``line_endings``, ``pieces``, ``delay_ms``), sent to
every running sandbox of the class's students (classes/broadcast.py). The answer is
one JSON object with every result; with ``Accept: application/x-ndjson`` it is a stream
of JSON lines instead (``start``, one ``answer`` per sandbox as it ends, ``done``), which
is how the panel shows "12 of 30 answered".

Only the class's teacher: anyone else who is not a teacher gets 403, another teacher
(or a class that does not exist) 404, as the board does. One broadcast per class at a
time, across processes (classes/broadcast_claim.py): a double click gets 409, not a
second round of requests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.utils.translation import get_language, gettext, gettext_noop

from ..class_models import Classroom
from ..compose import composer, presets
from ..compose.api import request_plan
from ..errors import ApiError, api
from ..refusals import Refusal
from ..sandboxes.ownership import is_teacher
from .broadcast import Broadcast, Plan, running_sandboxes
from .broadcast_claim import Claim, claim

NOT_A_TEACHER = gettext_noop("only the teacher of a class can send a request to it")
NO_SUCH_CLASS = gettext_noop("no such class (or it is another teacher's)")
NOTHING_RUNNING = gettext_noop("no student of this class has a running sandbox: nothing "
                               "was sent")
ALREADY_SENDING = gettext_noop("a request is already being sent to this class; wait for "
                               "its answers")
# The Host of the presets: each sandbox is on its own port, and henaserver (like nginx)
# needs a Host, not a particular one.
PRESET_HOST = "localhost"
NDJSON = "application/x-ndjson"

def _taught(request: HttpRequest, class_id: int) -> Classroom:
    if not is_teacher(request.user):
        raise Refusal(NOT_A_TEACHER).answer(403)
    classroom = Classroom.objects.filter(pk=class_id, teacher=request.user).first()
    if classroom is None:
        raise Refusal(NO_SUCH_CLASS).answer(404)
    return classroom


def _prepare(request: HttpRequest, class_id: int) -> tuple[Classroom, list[Any], Any]:
    """The class, its running sandboxes and the teacher (read here, on a thread where
    the ORM may run: request.user is lazy)."""
    classroom = _taught(request, class_id)
    return classroom, running_sandboxes(classroom), classroom.teacher


@api("GET", "POST")
async def broadcast(request: HttpRequest, class_id: int) -> Any:
    classroom, sandboxes, teacher = await sync_to_async(_prepare)(request, class_id)
    if request.method == "GET":
        return JsonResponse({"running": len(sandboxes),
                             "presets": presets.request_templates(PRESET_HOST),
                             "max_request_bytes": composer.MAX_REQUEST_BYTES})
    data, pieces, delay_ms = request_plan(request)
    if not sandboxes:
        raise ApiError(409, gettext(NOTHING_RUNNING), running=0)
    held = await sync_to_async(claim)(classroom.pk)
    if held is None:
        raise ApiError(409, gettext(ALREADY_SENDING))
    sending = Broadcast(teacher, Plan(data, pieces, delay_ms), sandboxes, get_language())
    lines = _lines(classroom, sending, held)
    if NDJSON in request.headers.get("Accept", ""):
        return StreamingHttpResponse(_ndjson(lines), content_type=NDJSON)
    results: list[dict[str, Any]] = []
    head: dict[str, Any] = {}
    async for line in lines:
        if line["type"] == "answer":
            results.append(line)
        else:
            head.update(line)
    results.sort(key=lambda r: (r["student"]["username"], r["sandbox"]["id"]))
    head.pop("type", None)
    return JsonResponse({**head, "results": results})


async def _lines(classroom: Classroom, sending: Broadcast,
                 held: Claim) -> AsyncIterator[dict[str, Any]]:
    """start, each answer, done; the class is free for another broadcast after.
    (A stream never read, its client gone at once, never enters ``try``: its claim
    goes stale instead, broadcast_claim.STALE.)"""
    try:
        total = len(sending.sandboxes)
        yield {"type": "start", "class": {"id": classroom.pk, "name": classroom.name},
               "total": total, "request_b64":
                   base64.b64encode(sending.plan.data).decode("ascii")}
        answered = 0
        async for result in sending.results():
            answered += result["error"] is None
            await sync_to_async(held.renew)()
            yield result
        yield {"type": "done", "total": total, "answered": answered,
               "references": sending.references_started}
    finally:
        await sync_to_async(held.release)()


async def _ndjson(lines: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for line in lines:
        yield json.dumps(line).encode() + b"\n"
