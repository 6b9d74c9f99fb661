"""The advice API (docs/api.md, "Advice"): the notes on one exchange, worded in the
viewer's language, and how many notes of each level for a page of rows (the list's
badges). Both lint on demand through advice.cache, never more than ADVICE_BATCH
exchanges per request."""

from __future__ import annotations

import re
from typing import Any

import httplint
import nh3
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import translation
from django.utils.translation import get_language, gettext
from httplint import Note
from httplint.field.finder import HttpFieldFinder
from httplint.i18n import set_locale, translate

from ..errors import ApiError, api
from ..models import Exchange, Sandbox
from ..sandboxes.ownership import get_readable
from . import advice
from . import advice_own as own
from .api import stored_exchange

# Rows one badge request may ask about: the rows a screen shows, with room. Each one not
# yet cached costs a query's bytes and about a millisecond of linting.
ADVICE_BATCH = 60
LIBRARY = f"httplint {httplint.__version__}"
# Where a note without a field of its own points: its topic's RFC section.
FALLBACK_LINKS = {
    "DATE_CLOCKLESS": f"{own.RFC9110}#field.date",
    "DATE_CLOCKLESS_BAD_HDR": f"{own.RFC9110}#field.date",
    "status": f"{own.RFC9110}#status.codes",
    "uri": f"{own.RFC9112}#section-3.2",
    "message": f"{own.RFC9112}#section-6",
}
# httplint's explanation is Markdown made HTML, wire values escaped by httplint; only
# these tags are kept, links open elsewhere (defence in depth: it goes in our page).
SAFE_TAGS = {"p", "code", "a", "ul", "ol", "li", "em", "strong", "pre", "br", "blockquote"}


# httplint names the RFCs by their HTTP WG copies over plain http; the page links the
# RFC Editor's (https, the same section anchors), as the glossary does.
HTTPWG = re.compile(r"https?://httpwg\.org/specs/(rfc\d+)(?:\.html)?")
RFC_EDITOR = r"https://www.rfc-editor.org/rfc/\1.html"


def _link(note: Note) -> str:
    """The RFC (or spec) section a note rests on."""
    if isinstance(note, own.OwnNote):
        return note.link
    if note.vars.get("ref_uri"):  # a field's syntax notes name the field's section
        return HTTPWG.sub(RFC_EDITOR, str(note.vars["ref_uri"]))
    for word in note.subject.split():
        if word.startswith("field-"):
            handler = HttpFieldFinder.find_handler_class(word[len("field-"):])
            reference = getattr(handler, "reference", "") if handler else ""
            if reference:
                return HTTPWG.sub(RFC_EDITOR, str(reference))
    name = type(note).__name__
    return FALLBACK_LINKS.get(name) or FALLBACK_LINKS.get(note.subject, own.RFC9110)


def _clean(html: str) -> str:
    """httplint's explanation with the safe tags only, its RFC links on the RFC Editor."""
    return nh3.clean(HTTPWG.sub(RFC_EDITOR, html), tags=SAFE_TAGS, attributes={"a": {"href"}},
                     url_schemes={"http", "https"}, link_rel="noopener noreferrer",
                     set_tag_attribute_values={"a": {"target": "_blank"}})


def _both_catalogs(message: str) -> str:
    """httplint's translation of one of its texts, else ours (advice_ja.py), else the
    English."""
    text = translate(message)
    return text if text != message else gettext(message)


def note_json(note: Note, language: str) -> dict[str, Any]:
    """One note in ``language`` ("en" or "ja"): httplint's catalog for its notes (ours
    where it has none yet), ours (django.po) for the playground's."""
    if not isinstance(note, own.OwnNote):
        note._translate = _both_catalogs  # type: ignore[method-assign]
    with set_locale(language), translation.override(language):
        summary, detail = note.summary, str(note.detail)
        category = translate(note.category.value)
        # English shown on a Japanese page says so.
        translated = language == "en" or all(note._translate(text) != text
                                             for text in (note._summary, note._text) if text)
    return {
        "id": type(note).__name__,
        "level": note.level.value,
        "category": category,
        "summary": summary,
        "detail": _clean(detail),
        "link": _link(note),
        "source": "playground" if isinstance(note, own.OwnNote) else "httplint",
        "translated": translated,
    }


RAW_FIELDS = ("pk", "request_raw", "response_raw", "request_truncated", "response_truncated")


def advice_of(pks: list[int]) -> dict[int, advice.Advice]:
    """The advice of these rows, by id: the cached, and the others linted (their bytes
    read in one query; never the bytes of a cached one). A row evicted meanwhile is
    left out."""
    found = {pk: advice.cache.get(pk) for pk in pks}
    missing = [pk for pk, notes in found.items() if notes is None]
    for row in Exchange.objects.filter(pk__in=missing).values(*RAW_FIELDS):
        found[row["pk"]] = linted = advice.lint(
            bytes(row["request_raw"]), bytes(row["response_raw"]),
            row["request_truncated"], row["response_truncated"])
        advice.cache.put(row["pk"], linted)
    return {pk: notes for pk, notes in found.items() if notes is not None}


@api("GET")
def exchange_advice(request: HttpRequest, sandbox_id: int, seq: int) -> JsonResponse:
    """Every note on exchange ``seq``, request's then response's, worst first."""
    pk = stored_exchange(get_readable(request, sandbox_id), seq, "pk")["pk"]
    found = advice_of([pk]).get(pk)
    if found is None:  # evicted since the line above
        raise Http404
    language = "ja" if (get_language() or "en").startswith("ja") else "en"
    rank = {level: i for i, level in enumerate(advice.LEVELS)}

    def side(notes: tuple[Note, ...]) -> list[dict[str, Any]]:
        ordered = sorted(notes, key=lambda n: rank[n.level.value])
        return [note_json(n, language) for n in ordered]

    return JsonResponse({"seq": int(seq), "request": side(found.request),
                         "response": side(found.response), "counts": found.counts(),
                         "library": LIBRARY})


def _seqs(text: str) -> list[int]:
    """``?seqs=1,2,3`` as numbers, or ApiError 400 saying what is wrong."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ApiError(400, gettext("seqs must list exchange numbers, such as seqs=1,2,3"))
    if len(parts) > ADVICE_BATCH:
        raise ApiError(400, gettext("at most %(count)s exchanges at a time, not %(asked)s")
                       % {"count": ADVICE_BATCH, "asked": len(parts)})
    # ASCII digits: str.isdigit() also takes "²", which int() refuses (it was a 500).
    if not all(re.fullmatch(r"[0-9]{1,18}", p) for p in parts):
        raise ApiError(400, gettext("seqs must list exchange numbers, such as seqs=1,2,3"))
    return sorted({int(p) for p in parts})


def _counts(sandbox: Sandbox, seqs: list[int]) -> dict[str, dict[str, int]]:
    ids = dict(Exchange.objects.filter(sandbox=sandbox, seq__in=seqs)
               .values_list("seq", "pk"))
    found = advice_of(list(ids.values()))
    return {str(seq): found[pk].counts() for seq, pk in ids.items() if pk in found}


@api("GET")
def advice_counts(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    """For each stored exchange of ``?seqs=`` (evicted ones left out), how many notes of
    each level."""
    sandbox = get_readable(request, sandbox_id)
    seqs = _seqs(request.GET.get("seqs", ""))
    return JsonResponse({"advice": _counts(sandbox, seqs), "library": LIBRARY})
