"""Compare two exchanges (issue 16, point 3): the page and its one API call.

An exchange is named ``<sandbox id>:<seq>``, so the two may come from any runs of any
sandboxes the visitor may read (their henaserver sandbox against their own server's,
docs/api.md "Compare two exchanges"). Each side is authorised on its own, exactly as
the traffic API does: a sandbox of another session is a 404, as if it did not exist.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext

from ..errors import ApiError, api
from ..models import Exchange, Sandbox
from ..sandboxes.ownership import get_readable, readable_by
from . import compare, exchanges
from .api import stored_exchange

# "12:345": sandbox 12, exchange seq 345 (the same digit bounds as the URLs' ids).
PICK = re.compile(r"([0-9]{1,18}):([0-9]{1,18})")


def _pick(request: HttpRequest, name: str) -> tuple[Sandbox, Exchange]:
    """The sandbox and stored exchange named by the query parameter ``name``; 400 when
    it is not SANDBOX:SEQ, 404 when either is not there (or not the visitor's)."""
    text = request.GET.get(name, "")
    match = PICK.fullmatch(text)
    if match is None:
        raise ApiError(400, gettext("%(name)s must name an exchange as SANDBOX:SEQ "
                                    "(e.g. 3:12), not %(value)s")
                       % {"name": name, "value": repr(text)})
    sandbox = get_readable(request, int(match.group(1)))
    return sandbox, stored_exchange(sandbox, int(match.group(2)))


def _about(sandbox: Sandbox, row: Exchange) -> dict:
    """What the page says about one side: whose, which, and a link to it."""
    return {"sandbox": sandbox.pk, "name": sandbox.name, "seq": row.seq,
            "summary": exchanges.summary(row),
            "traffic": reverse("playground:traffic-page", args=[sandbox.pk])
            + f"?exchange={row.seq}"}


@api("GET")
def exchange_diff(request: HttpRequest) -> JsonResponse:
    """``?a=SANDBOX:SEQ&b=SANDBOX:SEQ``: both exchanges' requests and responses, heads
    and bodies apart, with the ranges that differ (compare.py)."""
    a_box, a = _pick(request, "a")
    b_box, b = _pick(request, "b")
    return JsonResponse({
        "a": _about(a_box, a), "b": _about(b_box, b),
        "request": compare.compare(bytes(a.request_raw), bytes(b.request_raw), response=False),
        "response": compare.compare(bytes(a.response_raw), bytes(b.response_raw),
                                    response=True),
    })


def compare_page(request: HttpRequest) -> HttpResponse:
    """The comparison page: two pickers (sandbox and exchange number) and the result,
    which exchange-diff.js fetches from ``exchange_diff``."""
    mine = readable_by(request.user, request.session).order_by("name", "pk")
    return render(request, "playground/compare.html", {
        "sandboxes": [{"id": s.pk, "name": s.name} for s in mine],
    })
