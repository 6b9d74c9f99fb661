"""The traffic page and its HTTP API: exchange summaries after a seq, and the exact
bytes of one exchange (docs/api.md). Live updates come over the websocket
(consumers.py); these serve the late, the curious and the "load full" button."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.csrf import ensure_csrf_cookie

from . import composer, exchanges, export_api, presets, sandboxes
from .errors import ApiError, api

# The page renders this many rows at most; older ones stay reachable through the API.
DOM_ROWS = 1000


@ensure_csrf_cookie
def traffic_page(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    """The live traffic page: a shell; traffic.js fills it from the websocket."""
    sandbox = sandboxes.page_sandbox(request, sandbox_id)
    return render(request, "playground/traffic.html", {
        "sandbox": sandbox,
        "initial": sandboxes.to_json(request, sandbox),
        "dom_rows": DOM_ROWS,
        "composer": composer_data(request, sandbox),
    })


def composer_data(request: HttpRequest, sandbox) -> dict:
    """The composer's templates, with the sandbox's real host:port in Host."""
    host = urlsplit(sandboxes.sandbox_url(request, sandbox)).netloc
    return {"host": host, "templates": presets.request_templates(host),
            "max_pieces": composer.MAX_PIECES, "max_slow_ms": composer.MAX_SLOW_SECONDS * 1000}


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    text = request.GET.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, gettext("%(name)s must be a whole number, not %(value)s")
                       % {"name": name, "value": repr(text)}) from None
    return min(max(value, low), high)


@api("GET")
def exchange_list(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    """Summaries with seq > ``after`` (default 0), oldest first, ``limit`` per page."""
    sandbox = sandboxes.get_owned(request, sandbox_id)
    after = _int_param(request, "after", 0, 0, 2**62)
    limit = _int_param(request, "limit", exchanges.PAGE_SIZE, 1, exchanges.PAGE_SIZE)
    items = exchanges.page_after(sandbox.pk, after, limit)
    return JsonResponse({
        "exchanges": items,
        "more": len(items) == limit,
        "next_after": items[-1]["seq"] if items else after,
        "stats": exchanges.stats(sandbox),
    })


@api("GET")
def exchange_raw(request: HttpRequest, sandbox_id: int, seq: int, part: str) -> HttpResponse:
    """The exact recorded bytes of the request or the response."""
    sandbox = sandboxes.get_owned(request, sandbox_id)
    seq = int(seq)  # the URL pattern allows digits only
    field = "request" if part == "request" else "response"
    row = export_api.stored_exchange(sandbox, seq, f"{field}_raw", f"{field}_length",
                                     f"{field}_truncated")
    response = export_api.download(bytes(row[f"{field}_raw"]), f"{seq}-{field}.raw")
    # How much the server really sent/received (the recording caps bodies at body_cap).
    response["X-Full-Length"] = str(row[f"{field}_length"])
    response["X-Truncated"] = "true" if row[f"{field}_truncated"] else "false"
    return response
