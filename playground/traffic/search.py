"""Which stored exchanges pass a filter, answered from their recorded bytes: the half of
the traffic filter the page cannot do alone (``h:`` and ``body:`` tokens read headers
and bodies, which exchange summaries never carry; traffic/filters.py).

The page sends each such token by itself (``?filter=h:content-type=text/css``) and
keeps the answer as a set of seqs, so negation and the other tokens stay on the page;
``after`` asks only about exchanges stored since its last answer. The exports filter
with the same code (``passing``), so "export the filtered list" holds exactly the rows
the page shows. docs/api.md, "Exchanges matching a filter".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext

from ..errors import ApiError, api
from ..models import Exchange, Sandbox
from ..sandboxes.ownership import get_readable
from . import exchanges, filters

# Rows whose bytes are read per query: a sandbox's history is at most its retention
# (2,000 by default, up to 64 KiB a side each), so memory stays at one batch's bytes.
BATCH = 100


def _cannot_use(err: filters.FilterError) -> ApiError:
    return ApiError(400, gettext("This filter cannot be used: %(why)s") % {"why": err})


def parse(text: str) -> filters.Filter | None:
    """The filter for ``text``, or ApiError 400 saying why it cannot be used."""
    try:
        return filters.parse(text)
    except filters.FilterError as err:
        raise _cannot_use(err) from None


def passing(sandbox: Sandbox, wanted: filters.Filter | None, after: int = 0,
            run: int | None = None) -> Iterator[tuple[dict[str, Any], bytes, bytes]]:
    """(summary, request bytes, response bytes) of each stored exchange after seq
    ``after`` of run number ``run`` (None: all runs) that passes ``wanted``, oldest
    first; ApiError 400 when a pattern spends its time budget (filters.Pattern)."""
    try:
        yield from _passing(sandbox, wanted, after, run)
    except filters.FilterError as err:
        raise _cannot_use(err) from None


def _passing(sandbox: Sandbox, wanted: filters.Filter | None, after: int,
             run: int | None) -> Iterator[tuple[dict[str, Any], bytes, bytes]]:
    where: dict[str, Any] = {"sandbox": sandbox, "seq__gt": after}
    if run is not None:
        where["run__number"] = run
    items = [exchanges.summary(r) for r in Exchange.objects.filter(**where).order_by("seq")
             .values(*exchanges.SUMMARY_FIELDS)]
    if wanted is not None:  # first the terms a summary answers: no bytes read for those
        on_summary = [t for t in wanted.terms if t.key not in filters.BYTE_KEYS]
        items = [i for i in items if filters.matches(i, filters.Filter(tuple(on_summary)))]
    for start in range(0, len(items), BATCH):
        batch = items[start:start + BATCH]
        raw = {seq: (bytes(req), bytes(res)) for seq, req, res in Exchange.objects.filter(
            sandbox=sandbox, seq__in=[i["seq"] for i in batch])
            .values_list("seq", "request_raw", "response_raw")}
        for item in batch:
            if item["seq"] not in raw:  # evicted meanwhile: skip
                continue
            req, res = raw[item["seq"]]
            if filters.matches(item, wanted, lambda req=req, res=res: (req, res)):
                yield item, req, res


@api("GET")
def matching(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    """``?filter=TEXT&after=SEQ``: the seqs of the stored exchanges after ``after`` that
    pass the filter, and ``last_seq``, the newest stored seq looked at (ask again with
    ``after=last_seq`` for newer ones)."""
    sandbox = get_readable(request, sandbox_id)
    text = request.GET.get("filter", "")
    after_text = request.GET.get("after") or "0"
    if not (after_text.isascii() and after_text.isdigit()) or len(after_text) > 18:
        raise ApiError(400, gettext("%(name)s must be a whole number, not %(value)s")
                       % {"name": "after", "value": repr(after_text)})
    after = int(after_text)
    wanted = parse(text)
    last = (Exchange.objects.filter(sandbox=sandbox).order_by("-seq")
            .values_list("seq", flat=True).first()) or after
    seqs = [item["seq"] for item, _, _ in passing(sandbox, wanted, after) if item["seq"] <= last]
    return JsonResponse({"filter": text, "after": after, "last_seq": max(last, after),
                         "seqs": seqs})
