"""Browser tests in both languages: a page switched to one with the site's own switcher."""

from __future__ import annotations

from typing import Any


def in_language(page: Any, base: str, lang: str) -> None:
    """Open the home page of the playground at ``base`` and choose ``lang`` ("en" or "ja")
    with the header's switcher, as a learner does (the choice is kept in a cookie for the
    rest of the browser session)."""
    page.goto(base + "/")
    if page.get_attribute("html", "lang") != lang:
        page.locator(f"#lang-switch button[value={lang}]").click()
        page.wait_for_load_state("load")
    assert page.get_attribute("html", "lang") == lang
