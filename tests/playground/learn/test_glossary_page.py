"""The glossary as a page (/glossary/, learn/glossary.py): every entry of glossary.json
with an anchor a link can point at, in the viewer's language, with its spec link."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client

REPO = Path(__file__).resolve().parents[3]
GLOSSARY = json.loads((REPO / "static" / "playground" / "data" / "glossary.json")
                      .read_text(encoding="utf-8"))
PREFIX = {"hints": "hint", "mistakes": "mistake", "request_line": "syntax",
          "statuses": "status", "headers": "header"}


def _page(language: str) -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    response = client.get("/glossary/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_entry_has_its_anchor_text_and_link(language: str) -> None:
    html = _page(language)
    assert f'<html lang="{language}">' in html
    for section, prefix in PREFIX.items():
        for key, entry in GLOSSARY[section].items():
            anchor = f'id="{prefix}-{key}"'
            assert anchor in html, anchor
            block = html[html.index(anchor):]
            block = block[:block.index("</div>")]
            text = entry[language].replace("&", "&amp;").replace('"', "&quot;") \
                .replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;")
            assert text in block, (section, key)
            if entry.get("rfc"):
                assert f"{GLOSSARY['rfc_base']}{entry['rfc']}#section-{entry['section']}" in block


@pytest.mark.django_db
def test_hints_and_mistakes_are_named_in_the_readers_language(compiled_translations) -> None:
    html = _page("ja")
    block = html[html.index('id="hint-bare-lf"'):]
    assert GLOSSARY["hints"]["bare-lf"]["name_ja"] in block[:block.index("</dt>")]
    block = html[html.index('id="mistake-bare_lf"'):]
    assert "LF without CR" not in block[:block.index("</dt>")]
    english = _page("en")
    block = english[english.index('id="mistake-bare_lf"'):]
    assert "LF without CR" in block[:block.index("</dt>")]


@pytest.mark.django_db
def test_a_hint_links_to_its_rfc_section() -> None:
    html = _page("en")
    block = html[html.index('id="hint-bare-lf"'):]
    link = re.search(r'href="([^"]+)"[^>]*>([^<]+)</a>', block[block.index("<dd>"):])
    assert link and link.groups() == ("https://www.rfc-editor.org/rfc/rfc9112#section-2.1",
                                      "RFC 9112 §2.1")
