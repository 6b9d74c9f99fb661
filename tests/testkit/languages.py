"""The page's language in browser tests: chosen the way a learner does, with the
language switch of the page's header (a cookie the session keeps)."""


def in_language(page, base: str, lang: str) -> None:
    """Open the home page of ``base`` in ``lang`` ("en" or "ja")."""
    page.goto(base + "/")
    if page.get_attribute("html", "lang") != lang:
        page.locator(f"#lang-switch button[value={lang}]").click()
        page.wait_for_load_state("load")
    assert page.get_attribute("html", "lang") == lang
