"""The guided tour in a real Chromium, in English and in Japanese: switch the language
with the header's switcher, then run every step through the page (its "Set up" button
and its links) and check what the learner is told to look for. Also the explanations:
hovering a header name in the exchange detail. Its screenshots are the README's
(``make screenshots``; conftest.py says where they go).

Before a click or a hover, the tab it happens in is brought to the front: a background
tab gets no animation frames, and Playwright's wait for a "stable" element then takes
about 2 s per action instead of a few milliseconds.
"""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
GLOSSARY = json.loads((REPO / "static/playground/data/glossary.json").read_text("utf-8"))
RED = "rgb(255, 0, 0)"

TEXT = {
    "en": {"heading": "Guided tour: from a TCP socket to a web server",
           "no_response": "no response (record-only)", "switch": "English"},
    "ja": {"heading": "ガイドツアー: TCP ソケットから Web サーバーへ",
           "no_response": "応答なし（記録のみ）", "switch": "日本語"},
}

LOOK = """() => {
  const img = document.querySelector("img");
  return {colour: getComputedStyle(document.querySelector("h1")).color,
          logo: img ? img.complete && img.naturalWidth : null,
          heading: document.querySelector("h1").textContent};
}"""


def _set_up(page, slug: str):
    page.bring_to_front()
    step = page.locator(f"#step-{slug}")
    step.locator("button.setup").click()
    step.locator(".step-result").wait_for(state="visible", timeout=30_000)
    return step


def _open(context, link):
    """Click a link that opens a new tab; return the tab once it has loaded (or failed)."""
    link.page.bring_to_front()
    with context.expect_page() as opened:
        link.click()
    tab = opened.value
    try:
        tab.wait_for_load_state("load", timeout=15_000)
    except Exception:  # noqa: BLE001 - an empty response never "loads"; that is the point
        pass
    return tab


def _settled(tab):
    """The page's look once its CSS and image requests have finished or failed."""
    tab.wait_for_load_state("load")
    return tab.evaluate(LOOK)


def _row(traffic, path: str, extra: str = ""):
    rows = traffic.locator(f"#traffic-table tbody tr{extra}",
                           has=traffic.locator("td.path", has_text=path))
    rows.first.wait_for(timeout=15_000)
    return rows.first


@pytest.mark.screenshots
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_tour_completes_in_both_languages(browser, shared_playground, screenshot_dir, lang):
    site = shared_playground
    words = TEXT[lang]
    # A browser that asks for English: Japanese comes from the switcher alone.
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.base + "/")
    assert page.get_attribute("html", "lang") == "en"
    page.locator(f"#lang-switch button[value={lang}]").click()
    page.wait_for_load_state("load")
    assert page.get_attribute("html", "lang") == lang
    if lang == "ja":
        assert "新しいサンドボックス" in page.inner_text("main")
        page.screenshot(path=str(screenshot_dir / "home-ja.png"))

    page.locator(".topnav .tour-link").click()
    page.wait_for_url("**/tour/")
    assert page.get_attribute("html", "lang") == lang
    assert page.inner_text("#tour-heading") == words["heading"]

    # 1. See what Chrome sends: record-only; the row says "no response".
    step = _set_up(page, "see-what-chrome-sends")
    traffic = _open(context, step.locator(".watch-traffic"))
    traffic.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    assert traffic.get_attribute("html", "lang") == lang
    _open(context, step.locator(".open-sandbox"))
    row = _row(traffic, "/")
    row.locator(".outcome-tag").wait_for()
    assert row.locator(".outcome-tag").inner_text() == words["no_response"]
    # Hovering a header name explains it in this language, with its RFC section.
    traffic.bring_to_front()
    row.click()
    term = traffic.locator("#part-request .bytes .explain-term", has_text="User-Agent").first
    term.wait_for(timeout=10_000)
    term.hover()
    pop = traffic.locator("#explain-pop")
    pop.wait_for(state="visible")
    entry = GLOSSARY["headers"]["user-agent"]
    assert entry[lang] in pop.inner_text()
    link = pop.locator("a")
    assert link.inner_text() == f"RFC {entry['rfc'][3:]} §{entry['section']}"
    assert link.get_attribute("href") == (
        f"{GLOSSARY['rfc_base']}{entry['rfc']}#section-{entry['section']}")
    assert term.get_attribute("aria-describedby") == "explain-pop"
    term.focus()  # keyboard focus keeps it open while the screenshot scrolls
    shot = "exchange-explain.png" if lang == "en" else "exchange-explain-ja.png"
    traffic.locator("#detail").screenshot(path=str(screenshot_dir / shot))
    traffic.mouse.move(0, 0)  # away from every term, so no hover re-opens it
    traffic.keyboard.press("Escape")
    pop.wait_for(state="hidden")
    traffic.close()

    # 2. Replay it with the composer: the browser-like GET, answered 200.
    step = _set_up(page, "replay-with-the-composer")
    composer = _open(context, step.locator(".open-composer"))
    assert composer.input_value("#composer-text").startswith("GET / HTTP/1.1\n")
    composer.click("#composer-send")
    composer.wait_for_function(
        "() => document.getElementById('composer-response').textContent"
        ".startsWith('HTTP/1.1 200 OK')", timeout=15_000)
    composer.close()

    # 3. Apache's recorded reply: "It works!".
    step = _set_up(page, "answer-like-apache")
    tab = _open(context, step.locator(".open-sandbox"))
    assert tab.locator("h1").inner_text() == "It works!"
    tab.close()

    # 4. One request, then exit: the page arrives, its CSS and logo do not.
    step = _set_up(page, "one-request-then-exit")
    tab = _open(context, step.locator(".open-sandbox"))
    look = _settled(tab)
    assert look["heading"] == "Welcome to HenaServer!"
    assert look["colour"] != RED and look["logo"] == 0
    tab.close()

    # 5. Loop: every reload works and the logo arrives; the CSS is still ignored.
    step = _set_up(page, "loop")
    tab = _open(context, step.locator(".open-sandbox"))
    for _ in range(2):
        look = _settled(tab)
        assert look["logo"] > 0 and look["colour"] != RED
        tab.reload()
    tab.close()

    # 6. Content-Type fixed: red heading and logo.
    step = _set_up(page, "content-type")
    tab = _open(context, step.locator(".open-sandbox"))
    look = _settled(tab)
    assert look["colour"] == RED and look["logo"] > 0
    tab.close()

    # 7. Keep-alive: reloads reuse a connection (↺ in the conn column).
    step = _set_up(page, "keep-alive")
    traffic = _open(context, step.locator(".watch-traffic"))
    traffic.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    tab = _open(context, step.locator(".open-sandbox"))
    for _ in range(3):
        tab.reload()
        tab.wait_for_load_state("load")
    reused = _row(traffic, "/", ".reused")
    assert reused.locator("td.conn").inner_text().startswith("↺ ")
    tab.close()
    traffic.close()

    page.bring_to_front()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot_dir / ("tour.png" if lang == "en" else "tour-ja.png")))
    assert errors == []
    context.close()
