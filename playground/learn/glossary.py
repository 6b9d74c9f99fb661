"""The glossary as a page (/glossary/): every entry of static/playground/data/glossary.json
in the viewer's language, each with an anchor, so a link can point at one entry. The raw
views show the same entries as popovers (explain.js); "Check my server" links its hints
here (``#hint-<key>``, checks.js). The file is the one source (docs/glossary.md); this
page only reads it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from ..traffic.mistakes import MISTAKES

GLOSSARY_FILE = settings.BASE_DIR / "static" / "playground" / "data" / "glossary.json"

# The file's sections in the page's order: (key, anchor prefix, heading).
SECTIONS = (
    ("hints", "hint", _("Classic mistakes the checks point out")),
    ("mistakes", "mistake", _("Mistakes the capture relay names")),
    ("request_line", "syntax", _("Parts of a message")),
    ("statuses", "status", _("Status codes")),
    ("headers", "header", _("Header fields")),
)


@lru_cache(maxsize=1)
def _load(mtime: float) -> dict[str, Any]:
    """The parsed file, read again only when it changes (keyed by its mtime)."""
    return json.loads(GLOSSARY_FILE.read_text(encoding="utf-8"))


def glossary() -> dict[str, Any]:
    return _load(GLOSSARY_FILE.stat().st_mtime)


def link(data: dict[str, Any], entry: dict[str, Any]) -> tuple[str, str]:
    """An entry's spec link and its label ("RFC 9112 §2.2", or the host of a url)."""
    if entry.get("rfc"):
        url = f"{data['rfc_base']}{entry['rfc']}#section-{entry['section']}"
        return url, f"RFC {entry['rfc'][3:]} §{entry['section']}"
    url = entry.get("url", "")
    return url, url.split("/")[2] if url.startswith("https://") else url


def _title(section: str, name: str, entry: dict[str, Any], language: str) -> str:
    """What an entry is called: a header's name, a status with its phrase, a syntax
    part's key; a mistake's label as the traffic view words it; a hint's name in the
    page's language (``name_ja``)."""
    if section == "mistakes":
        return gettext(MISTAKES.get(name, entry["name"]))
    if section == "hints" and language == "ja":
        return str(entry.get("name_ja") or entry["name"])
    return str(entry.get("name") or f"{name} {entry.get('phrase', '')}".strip())


def sections(language: str) -> list[dict[str, Any]]:
    """The entries to show, section by section, in ``language`` ("ja" or "en")."""
    data = glossary()
    shown = []
    for key, prefix, heading in SECTIONS:
        entries = []
        for name, entry in data.get(key, {}).items():
            url, label = link(data, entry)
            title = _title(key, name, entry, language)
            entries.append({"anchor": f"{prefix}-{name}", "title": title,
                            "text": entry.get(language) or entry["en"],
                            "url": url, "label": label})
        if entries:
            shown.append({"key": key, "heading": heading, "entries": entries})
    return shown


def glossary_page(request: HttpRequest) -> HttpResponse:
    language = "ja" if (get_language() or "").startswith("ja") else "en"
    return render(request, "playground/glossary.html", {"sections": sections(language)})
