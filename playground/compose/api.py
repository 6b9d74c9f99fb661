"""``POST /api/sandboxes/<id>/compose/``: send raw bytes to one of *your own running*
sandboxes and return what came back (docs/api.md, "Composer").

The target is never taken from the request: the sandbox is looked up by id for its
owner (404 otherwise), must be running (409 otherwise), and the bytes go to
``(PLAYGROUND_BIND_HOST, sandbox.port)`` only. The view is async: a compose can take up
to composer.TOTAL_TIMEOUT seconds, spent awaiting the socket, not holding a thread. The
ORM runs in sync_to_async (Django's ORM is sync; NOTES.md).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext

from ..errors import ApiError, api, json_body
from ..models import Sandbox
from ..sandboxes.ownership import get_owned
from ..sandboxes.presenters import STATUS_WORDS
from ..sandboxes.runtime import is_running
from . import composer, curl

# Composes in flight in this process, all sandboxes together: each holds a socket and a
# task for up to TOTAL_TIMEOUT seconds, so a script cannot pile up thousands.
MAX_CONCURRENT = 8
_active = 0
_active_lock = threading.Lock()


@contextmanager
def sending_slots(count: int) -> Iterator[None]:
    """Hold ``count`` of the MAX_CONCURRENT composes while sending, or ApiError 429."""
    global _active
    with _active_lock:
        if _active + count > MAX_CONCURRENT:
            raise ApiError(429, gettext("too many requests are being composed right now; "
                                        "try again in a few seconds"))
        _active += count
    try:
        yield
    finally:
        with _active_lock:
            _active -= count


def connect_host(bind_host: str) -> str:
    """Where to reach a sandbox listening on ``bind_host`` from this machine."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind_host, bind_host)


def not_running(sandbox: Sandbox) -> str:
    """What a sandbox that does not run answers the composer (here a 409; compose
    several puts it in that sandbox's answer)."""
    status = gettext(STATUS_WORDS.get(sandbox.status, sandbox.status))
    return gettext("“%(name)s” is %(status)s: start it first, then send your request") % {
        "name": sandbox.name, "status": status}


def _running_sandbox(request: HttpRequest, sandbox_id: int) -> Sandbox:
    sandbox = get_owned(request, sandbox_id)
    if not is_running(sandbox):
        raise ApiError(409, not_running(sandbox), sandbox_status=sandbox.status)
    return sandbox


def request_plan(request: HttpRequest) -> tuple[bytes, int, int]:
    """The request bytes (line endings applied), pieces and delay, or ApiError 400
    (the composer's body; a class broadcast takes the same one)."""
    try:
        body = json_body(request)
    except RequestDataTooBig:
        raise ApiError(413, gettext("this request is too large for the composer")) from None
    try:
        data = base64.b64decode(str(body.get("request_b64", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, gettext("%(field)s is not valid base64") % {"field": "request_b64"},
                       field="request_b64") from None
    try:
        pieces = int(body.get("pieces", 1))
        delay_ms = int(body.get("delay_ms", 0))
    except (TypeError, ValueError):
        raise ApiError(400, gettext("pieces and delay_ms must be whole numbers")) from None
    # A ComposeError is a Refusal: errors.api answers it in the request's language.
    data = composer.line_endings(data, body.get("line_endings", "crlf"))
    composer.check_plan(data, pieces, delay_ms)
    return data, pieces, delay_ms


@api("POST")
async def compose(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = await sync_to_async(_running_sandbox)(request, sandbox_id)
    data, pieces, delay_ms = request_plan(request)
    host = connect_host(settings.PLAYGROUND_BIND_HOST)
    with sending_slots(1):
        result = await composer.send(host, sandbox.port, data, pieces, delay_ms)
    payload = result.as_json(base64.b64encode)
    payload["request_b64"] = base64.b64encode(data).decode("ascii")
    payload["target"] = f"{host}:{sandbox.port}"
    return JsonResponse(payload)


@api("POST")
def from_curl(request: HttpRequest) -> JsonResponse:
    """``POST /api/compose/curl/``: a pasted curl command as the bytes curl would send
    (compose/curl.py); nothing is sent. A command it cannot read is a 400 naming why."""
    command = json_body(request).get("command")
    if not isinstance(command, str):
        raise ApiError(400, gettext("%(field)s must be a string") % {"field": "command"},
                       field="command")
    data, ignored = curl.request_bytes(command)
    return JsonResponse({"request_b64": base64.b64encode(data).decode("ascii"),
                         "length": len(data), "ignored": ignored,
                         "user_agent": f"curl/{curl.CURL_VERSION}"})
