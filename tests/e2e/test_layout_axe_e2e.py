"""Issue 16, point 7 (the layout helper's half): on every main page — home, a sandbox's
files, its traffic (list, an exchange open, the composer's tab), a program sandbox's
page, the classes list, a class board, the tour and the glossary — in English and in
Japanese, axe-core (npm, injected into the real page) finds no serious or critical
violation, and the Tab key reaches every visible control (the three upload buttons
included: they are labels around file inputs)."""

from __future__ import annotations

import uuid

import pytest
from testkit.axe import audit, explain
from testkit.class_browsers import login, make_class
from testkit.keyboard import unreachable

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "ja": "ja-JP"}


def _make_class(site, tag: str) -> tuple[str, int]:
    """A class of this test's own in the shared playground: its teacher's name, its id."""
    teacher = f"teacher-{tag}"
    ids = make_class(site.env, (f"student-{tag}",), teacher=teacher, code=tag[:8].upper())
    return teacher, ids["class"]


def _check(page, name: str, found: dict[str, str]) -> None:
    violations = audit(page)
    if violations:
        found[f"{name}: axe"] = explain(violations)
    missed = unreachable(page)
    if missed:
        found[f"{name}: not reached with Tab"] = "\n".join(missed)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_main_pages_pass_axe_and_tab_reaches_every_control(browser, shared_playground,
                                                            start_in_page, language):
    site = shared_playground
    teacher, class_id = _make_class(site, uuid.uuid4().hex[:10])
    context, page, errors = login(browser, site, teacher, LOCALES[language])
    found: dict[str, str] = {}
    try:
        page.goto(site.base + "/")
        page.wait_for_selector("html.js-ready")
        sandbox = start_in_page(page, f"axe {language}")
        page.reload()
        page.wait_for_selector(".card")
        _check(page, "home", found)

        page.goto(site.base + sandbox["links"]["page"])
        page.wait_for_selector("html.js-ready")
        page.wait_for_selector("#file-tree tr")
        _check(page, "files", found)

        page.goto(site.base + f"/sandboxes/{sandbox['id']}/traffic/")
        page.locator("#conn-state[data-state=live]").wait_for()
        # One exchange in the list, then opened: the list and the detail are audited.
        page.evaluate("(url) => fetch(url, {mode: 'no-cors'})", sandbox["url"])
        row = page.locator("#traffic-table tbody tr[data-seq]").first
        row.wait_for()
        _check(page, "traffic", found)
        row.click()
        page.locator("#part-response .bytes .ctl").first.wait_for()
        _check(page, "traffic, an exchange open", found)
        page.keyboard.press("Escape")
        page.locator("#panel-tab-composer").click()
        page.locator("#composer-text").wait_for()
        _check(page, "traffic, the composer", found)

        page.goto(site.base + "/")  # the form suggests the next free port
        port = int(page.input_value("#create-port"))
        program = page.evaluate("""async ([name, port]) => PG.api("POST", "/api/sandboxes/",
            {name, port, kind: "program", starter: "loop"})""", [f"program {language}", port])
        page.goto(site.base + program["links"]["page"])
        page.wait_for_function("() => document.getElementById('program-text').value.length > 0")
        _check(page, "program", found)

        for name, path, ready in (
                ("classes", "/classes/", "html.js-ready, main"),
                ("board", f"/classes/{class_id}/", "#board-conn[data-state=live]"),
                ("tour", "/tour/", "html.js-ready"),
                ("glossary", "/glossary/", "main")):
            page.goto(site.base + path)
            page.wait_for_selector(ready)
            _check(page, name, found)
        assert not found, "\n\n".join(f"== {k}\n{v}" for k, v in found.items())
        assert errors == []
    finally:
        context.close()
