"""``GET /api/sandboxes/<id>/exchanges/<seq>/<part>.body``: the body of one recorded part
made readable (bodies.view: chunked and content codings undone within a bound, the text
by the one decoding rule, JSON re-indented or its error located) for the detail's
Decoded view. JSON of codes and data; the page words it (docs/api.md)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from ..errors import api
from ..sandboxes.ownership import get_readable
from . import bodies
from .api import stored_exchange


@api("GET")
def body_view(request: HttpRequest, sandbox_id: int, seq: int, part: str) -> JsonResponse:
    sandbox = get_readable(request, sandbox_id)
    field = "request" if part == "request" else "response"
    row = stored_exchange(sandbox, int(seq), f"{field}_raw", f"{field}_truncated")
    view = bodies.view(bytes(row[f"{field}_raw"]), response=field == "response")
    view["truncated"] = bool(row[f"{field}_truncated"])  # the recording kept only the start
    return JsonResponse(view)
