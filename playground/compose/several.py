"""``POST /api/compose/several/``: one request to several of *your own* sandboxes at
once, and each answer against the first one's, byte for byte (docs/api.md, "Composer").

The point: send the bytes that your program answers to henaserver too, or the same
request to two modes, and see exactly where the answers part. The sending is the
composer's (``composer.send``, its bounds and the in-flight limit of api.py); the diff
is the class board's (``classes/diff.py``: lines first, then the part of a line that
differs; Date, ETag, Server... marked as expected to differ).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext

from ..classes import diff as bytes_diff
from ..errors import ApiError, api, json_body
from ..models import Sandbox
from ..sandboxes.ownership import get_owned
from ..sandboxes.runtime import is_running
from . import composer
from .api import MAX_CONCURRENT, connect_host, not_running, request_plan, sending_slots

# At least two to compare; at most as many as may be composed at once in this process.
MIN_TARGETS = 2
MAX_TARGETS = MAX_CONCURRENT


def _target_ids(request: HttpRequest) -> list[int]:
    ids = json_body(request).get("sandboxes")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                            for i in ids):
        raise ApiError(400, gettext("%(field)s must be a list of sandbox ids")
                       % {"field": "sandboxes"}, field="sandboxes")
    unique = list(dict.fromkeys(ids))
    if not MIN_TARGETS <= len(unique) <= MAX_TARGETS:
        raise ApiError(400, gettext("pick between %(low)s and %(high)s different sandboxes")
                       % {"low": MIN_TARGETS, "high": MAX_TARGETS}, field="sandboxes")
    return unique


def _targets(request: HttpRequest, ids: list[int]) -> list[tuple[Sandbox, bool]]:
    """Each sandbox (404/403 if not yours) and whether it runs now."""
    rows = [get_owned(request, sandbox_id) for sandbox_id in ids]
    return [(row, is_running(row)) for row in rows]


def _answer(sandbox: Sandbox, running: bool, result: composer.Result | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "sandbox": {"id": sandbox.pk, "name": sandbox.name, "port": sandbox.port},
    }
    if result is None:
        answer["error"] = not_running(sandbox)
        return answer
    answer.update(result.as_json(base64.b64encode))
    return answer


@api("POST")
async def compose_several(request: HttpRequest) -> JsonResponse:
    """Send the composer's request to each sandbox in ``sandboxes`` (in that order, at
    the same time) and answer ``{"answers": [...]}``: each the composer's answer plus
    ``sandbox`` and, from the second on, ``diff`` against the first's bytes (null when
    either side got no answer). A stopped sandbox gets ``error`` instead."""
    ids = _target_ids(request)
    targets = await sync_to_async(_targets)(request, ids)
    data, pieces, delay_ms = request_plan(request)
    host = connect_host(settings.PLAYGROUND_BIND_HOST)
    live = [sandbox for sandbox, running in targets if running]

    async def nothing() -> None:
        return None

    with sending_slots(len(live)):
        results = await asyncio.gather(*[
            composer.send(host, sandbox.port, data, pieces, delay_ms) if running
            else nothing() for sandbox, running in targets])
    answers = [_answer(sandbox, running, result)
               for (sandbox, running), result in zip(targets, results, strict=True)]
    first = results[0]
    for answer, result in zip(answers[1:], results[1:], strict=True):
        answer["diff"] = (bytes_diff.diff(bytes(result.response), bytes(first.response))
                          if result is not None and first is not None else None)
    return JsonResponse({"request_b64": base64.b64encode(data).decode("ascii"),
                         "answers": answers})
