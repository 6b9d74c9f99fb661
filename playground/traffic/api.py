"""The traffic API (docs/api.md): exchange summaries after a seq, the exact bytes of one
exchange, and the exports ("Export"): one exchange as the tutorial's files or as a curl
command, and the stored history, filtered like the traffic page, as HAR 1.2 or as a raw
dump. Live updates come over the websocket (consumer.py); these serve the late, the
curious and the "load full" button. Captured bytes are always downloads, never rendered
on our origin."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext

from ..errors import ApiError, api
from ..models import Exchange, Sandbox
from ..sandboxes.ownership import get_readable
from ..sandboxes.presenters import sandbox_host, sandbox_url
from . import exchanges, exports, pages, runs, search, streams
from .ingest import ingestor


def download(data: bytes, filename: str, content_type: str = "application/octet-stream",
             attachment: bool = True) -> HttpResponse:
    """Captured (hostile) bytes as a download: never sniffed, never rendered on our
    origin."""
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    kind = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{kind}; filename="{filename}"'
    return response


def stored_exchange(sandbox: Sandbox, seq: int, *fields: str) -> Any:
    """The stored exchange ``seq`` of ``sandbox`` (only ``fields``, as a dict, when given),
    or ApiError 404 saying it may have been evicted."""
    rows = Exchange.objects.filter(sandbox=sandbox, seq=int(seq))
    row = (rows.values(*fields) if fields else rows).first()
    if row is None:
        raise ApiError(404, gettext("exchange %(seq)s is not stored (it may have been evicted: "
                                    "the playground keeps the latest %(count)s)")
                       % {"seq": seq, "count": settings.PLAYGROUND_RETENTION_EXCHANGES})
    return row


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


def _run_param(request: HttpRequest, sandbox: Sandbox, default: str) -> int | None:
    """``?run=current|all|<number>`` as a run number, or None for all runs. "current"
    is the running run, else the latest (0 when there is none: nothing matches)."""
    text = request.GET.get("run") or default
    if text == "all":
        return None
    if text == "current":
        run = runs.current(sandbox.pk) or sandbox.runs.order_by("-number").first()
        return run.number if run is not None else 0
    if text.isascii() and text.isdigit() and len(text) < 10:  # isdigit alone takes "²"
        return int(text)
    raise ApiError(400, gettext("run must be current, all or a run number, not %(value)s")
                   % {"value": repr(text)})


@api("GET")
def run_list(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    """The sandbox's runs, oldest first, with their counts and the totals (docs/api.md)."""
    sandbox = get_readable(request, sandbox_id)
    current = runs.current(sandbox.pk)
    if current is not None and not sandbox.is_live:
        # A run whose end never reached the ingest queue: the playground process that
        # ran it ended, and the row was marked stopped without telling the ingestor.
        # Closed now, by the writer (the only code that changes runs), with the row's
        # message.
        ingestor().status(sandbox.key)
        ingestor().sync(5)
        current = runs.current(sandbox.pk)
    every = list(sandbox.runs.order_by("number"))
    return JsonResponse({
        "runs": [runs.to_json(run) for run in every],
        "current": current.number if current is not None else None,
        "all": runs.total(every),
        "retention": pages.retention_limits(),
        # Each not-recorded reason code worded in the viewer's language.
        "reasons": pages.reason_labels(),
    })


@api("GET")
def exchange_list(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    """Summaries with seq > ``after`` (default 0), oldest first, ``limit`` per page,
    of ``run`` (default: all runs)."""
    sandbox = get_readable(request, sandbox_id)
    after = _int_param(request, "after", 0, 0, 2**62)
    limit = _int_param(request, "limit", exchanges.PAGE_SIZE, 1, exchanges.PAGE_SIZE)
    run = _run_param(request, sandbox, "all")
    items = exchanges.page_after(sandbox.pk, after, limit, run)
    return JsonResponse({
        "exchanges": items,
        "more": len(items) == limit,
        "next_after": items[-1]["seq"] if items else after,
        "stats": exchanges.stats(sandbox),
    })


@api("GET")
def stream_list(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    """The capture relay's stored ``stream`` records (bytes outside any exchange), oldest
    first, each with the first streams.PREVIEW bytes (docs/api.md)."""
    sandbox = get_readable(request, sandbox_id)
    return JsonResponse({"streams": streams.newest(sandbox.pk), "keep": streams.KEEP})


@api("GET")
def exchange_raw(request: HttpRequest, sandbox_id: int, seq: int, part: str) -> HttpResponse:
    """The exact recorded bytes of the request or the response."""
    sandbox = get_readable(request, sandbox_id)
    seq = int(seq)  # the URL pattern allows digits only
    field = "request" if part == "request" else "response"
    row = stored_exchange(sandbox, seq, f"{field}_raw", f"{field}_length",
                                     f"{field}_truncated")
    response = download(bytes(row[f"{field}_raw"]), f"{seq}-{field}.raw")
    # How much the server really sent/received (the recording caps bodies at body_cap).
    response["X-Full-Length"] = str(row[f"{field}_length"])
    response["X-Truncated"] = "true" if row[f"{field}_truncated"] else "false"
    return response


# ----- exports ---------------------------------------------------------------------------


def _base_url(request: HttpRequest, sandbox: Sandbox, request_raw: bytes = b"") -> str:
    """Where to send the request again: the recorded Host when it names this sandbox
    (``127.0.0.1:8001``, ``localhost:8001``...), else the sandbox's own URL."""
    url = sandbox_url(request, sandbox)
    host = exports.parse(request_raw).header("host") or ""
    name, _, port = host.rpartition(":")
    names = {"localhost", "127.0.0.1", "[::1]", settings.PLAYGROUND_BIND_HOST,
             sandbox_host(request)}
    if port == str(sandbox.port) and name in names:
        return f"http://{host}/"
    return url


@api("GET")
def tutorial_file(request: HttpRequest, sandbox_id: int, seq: int, name: str) -> HttpResponse:
    """``server_recv.txt`` (the request) or ``server_send.txt`` (the response), the
    names the tutorial's server wrote them under."""
    row = stored_exchange(get_readable(request, sandbox_id), seq)
    data = bytes(row.request_raw if name == "server_recv.txt" else row.response_raw)
    return download(data, name)


@api("GET")
def request_body(request: HttpRequest, sandbox_id: int, seq: int) -> HttpResponse:
    """The request's body alone: the ``body.bin`` of "copy as curl"."""
    row = stored_exchange(get_readable(request, sandbox_id), seq)
    message = exports.parse(bytes(row.request_raw))
    return download(message.body, "body.bin")


@api("GET")
def curl(request: HttpRequest, sandbox_id: int, seq: int) -> HttpResponse:
    sandbox = get_readable(request, sandbox_id)
    row = stored_exchange(sandbox, seq)
    body_url = request.build_absolute_uri(
        reverse("playground:api-exchange-body", args=[sandbox.pk, row.seq]))
    text = exports.curl(bytes(row.request_raw), _base_url(request, sandbox, row.request_raw),
                        truncated=row.request_truncated, body_url=body_url)
    return download(text.encode("utf-8"), f"{row.seq}-curl.sh",
                     "text/plain; charset=utf-8", attachment=False)


def _filtered(sandbox: Sandbox, text: str, run: int | None):
    """(summary, request bytes, response bytes) of every stored exchange of run number
    ``run`` (None: all runs) that passes the traffic page's filter ``text``, oldest
    first; ApiError 400 for a filter that cannot be used (a bad regular expression)."""
    return search.passing(sandbox, search.parse(text), run=run)


@api("GET")
def har(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    sandbox = get_readable(request, sandbox_id)
    text = request.GET.get("filter", "")
    base = _base_url(request, sandbox)
    run = _run_param(request, sandbox, "current")
    entries = [exports.har_entry(item, req, res, base)
               for item, req, res in _filtered(sandbox, text, run)]
    comment = f"sandbox “{sandbox.name}”" + (f", filter: {text}" if text.strip() else "")
    document = exports.har(entries, comment)
    return download(json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"),
                     f"sandbox-{sandbox.pk}.har", "application/json; charset=utf-8")


@api("GET")
def raw_dump(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    sandbox = get_readable(request, sandbox_id)
    run, text = _run_param(request, sandbox, "current"), request.GET.get("filter", "")
    rows = list(_filtered(sandbox, text, run))
    # The relay's stream records follow, unfiltered: bytes outside exchanges have no
    # method, path or status to match (with a filter, only exchanges are wanted).
    extra = b"" if text.strip() else streams.dump(sandbox.pk, run)
    return download(exports.raw_dump(rows) + extra,
                    f"sandbox-{sandbox.pk}-exchanges.raw")
