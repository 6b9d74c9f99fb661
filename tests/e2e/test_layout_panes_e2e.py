"""Issue 16, point 1, in a real Chromium in English and Japanese: on a 1,366 px screen
the list and the detail sit side by side and a divider resizes them (kept over a
reload, moved by mouse and by keys); below 1,200 px the detail opens as a dialog over
an inert list that Esc closes; the composer has a tab of its own; and a 400 px phone
reads the list and opens an exchange."""

from __future__ import annotations

import pytest
from testkit.axe import audit, explain
from testkit.program_pages import new_page

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"locale": "en-US", "exchanges": "Exchanges", "composer": "Composer",
           "close": "Close"},
    "ja": {"locale": "ja-JP", "exchanges": "やりとり", "composer": "コンポーザー",
           "close": "閉じる"},
}
SIZES = {"wide": {"width": 1366, "height": 900}, "narrow": {"width": 1000, "height": 800},
         "phone": {"width": 400, "height": 800}}

ROWS = "#traffic-table tbody tr[data-seq]"
INERT_LIST = "() => document.getElementById('list-pane').closest('[inert]') !== null"
# Resolves once the page has not scrolled for a few frames (a smooth scroll has ended).
SETTLED = """() => new Promise((done) => {
  let y = scrollY, still = 0;
  const look = () => {
    if (scrollY === y) still++; else { y = scrollY; still = 0; }
    if (still > 5) done(true); else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})"""


def _traffic_page(browser, shared_playground, start_in_page, language, size, **options):
    """A new session at ``size`` in ``language``: a running sandbox, its traffic page
    open, and two exchanges in the list (the page and its stylesheet)."""
    context, page, errors = new_page(browser, shared_playground, WORDS[language]["locale"],
                                     viewport=SIZES[size], **options)
    sandbox = start_in_page(page, f"layout {size} {language}")
    page.goto(shared_playground.base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for()
    for path in ("/", "/index.css"):
        page.evaluate("(url) => fetch(url, {mode: 'no-cors'})", sandbox["url"] + path.lstrip("/"))
    page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length >= 2")
    return context, page, errors


def _box(page, selector):
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box


@pytest.mark.parametrize("language", ["en", "ja"])
def test_wide_screen_side_by_side_with_a_divider_that_is_kept(browser, shared_playground,
                                                              start_in_page, screenshot_dir,
                                                              language):
    words = WORDS[language]
    context, page, errors = _traffic_page(browser, shared_playground, start_in_page,
                                          language, "wide")
    try:
        exchanges_tab = page.get_by_role("tab", name=words["exchanges"])
        assert exchanges_tab.get_attribute("aria-selected") == "true"
        divider = page.get_by_role("separator")
        assert not divider.is_visible()  # no detail yet: the list has the whole width
        full = _box(page, "#list-pane")["width"]

        page.locator(ROWS).first.click()
        page.locator("#part-response .bytes .ctl").first.wait_for()
        listed, shown = _box(page, "#list-pane"), _box(page, "#detail")
        # Side by side: the detail right of the list, on the same band of the screen,
        # and the list still in view (opening an exchange no longer scrolls it away).
        assert shown["x"] >= listed["x"] + listed["width"]
        assert shown["y"] < listed["y"] + listed["height"]
        assert listed["y"] < shown["y"] + shown["height"]
        assert listed["width"] < full * 0.6
        page.evaluate(SETTLED)
        row = _box(page, ROWS)
        assert 0 <= row["y"] and row["y"] + row["height"] <= SIZES["wide"]["height"]
        assert page.get_attribute("#detail", "role") is None  # a region, not a dialog
        assert _box(page, ROWS)["height"] < 60  # a path of 1 or 11 characters: one line
        page.screenshot(path=str(screenshot_dir / f"layout-wide-{language}.png"))

        # Drag the divider to a third of the width: the list follows, and keeps it.
        inspector = _box(page, "#inspector")
        handle = _box(page, "#pane-divider")
        page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        page.mouse.down()
        target_x = inspector["x"] + inspector["width"] * 0.33
        page.mouse.move(target_x, handle["y"] + 100, steps=5)
        page.mouse.up()
        assert divider.get_attribute("aria-valuenow") == "33"
        assert abs(_box(page, "#list-pane")["width"] - inspector["width"] * 0.33) < 12

        page.reload()
        page.locator(ROWS).first.click()
        page.locator("#part-response .bytes .ctl").first.wait_for()
        assert divider.get_attribute("aria-valuenow") == "33"  # from localStorage
        assert abs(_box(page, "#list-pane")["width"] - inspector["width"] * 0.33) < 12
        # The keyboard moves it too (the ARIA window splitter).
        divider.focus()
        page.keyboard.press("ArrowRight")
        assert divider.get_attribute("aria-valuenow") == "35"
        assert page.evaluate("() => localStorage.getItem('playground.traffic.listShare')") == "35"

        # Esc from inside the detail closes it; the list has the width again.
        page.get_by_role("button", name=words["close"], exact=True).focus()
        page.keyboard.press("Escape")
        page.locator("#detail").wait_for(state="hidden")
        assert not divider.is_visible()
        assert abs(_box(page, "#list-pane")["width"] - full) < 2

        # The composer in a tab of its own; the arrow keys move between the tabs.
        composer_tab = page.get_by_role("tab", name=words["composer"])
        composer_tab.click()
        assert page.locator("#composer-text").is_visible()
        assert not page.locator("#inspector").is_visible()
        composer_tab.focus()
        page.keyboard.press("ArrowLeft")
        assert exchanges_tab.get_attribute("aria-selected") == "true"
        assert page.locator("#inspector").is_visible()
        assert not page.locator("#composer").is_visible()
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_below_1200_px_the_detail_is_a_dialog_that_esc_closes(browser, shared_playground,
                                                              start_in_page, screenshot_dir,
                                                              language):
    context, page, errors = _traffic_page(browser, shared_playground, start_in_page,
                                          language, "narrow")
    try:
        page.locator(ROWS).first.click()
        dialog = page.get_by_role("dialog")
        dialog.locator("#part-response .bytes .ctl").first.wait_for()
        assert dialog.get_attribute("aria-modal") == "true"
        box = _box(page, "#detail")
        assert box["x"] >= 0 and box["x"] + box["width"] <= SIZES["narrow"]["width"]
        assert box["y"] >= 0 and box["y"] + box["height"] <= SIZES["narrow"]["height"]
        # Modal: focus starts in it, the list behind is inert, Tab stays inside.
        assert page.evaluate("() => document.activeElement.id") == "detail-close"
        assert page.evaluate(INERT_LIST)
        for _ in range(6):
            page.keyboard.press("Tab")
            assert page.evaluate("() => document.getElementById('detail')"
                                 ".contains(document.activeElement)")
        violations = audit(page)  # the dialog passes the audit too
        assert not violations, explain(violations)
        page.screenshot(path=str(screenshot_dir / f"layout-dialog-{language}.png"))
        page.keyboard.press("Escape")
        page.locator("#detail").wait_for(state="hidden")
        assert not page.evaluate(INERT_LIST)
        # The backdrop closes it too.
        page.locator(ROWS).first.click()
        dialog.wait_for()
        page.mouse.click(5, 5)
        page.locator("#detail").wait_for(state="hidden")
        # "Open in composer" from the dialog: the composer's tab, usable (nothing inert);
        # back on the exchanges the dialog is there again, modal, with the focus.
        page.locator(ROWS).first.click()
        dialog.locator("button[data-replay=open]").click()
        page.wait_for_function("() => document.activeElement.id === 'composer-text'")
        assert page.evaluate("() => document.querySelector('[inert]') === null")
        page.locator("#panel-tab-exchanges").click()
        dialog.wait_for()
        assert page.evaluate(INERT_LIST)
        assert page.evaluate("() => document.activeElement.id") == "detail-close"
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_400_px_phone_reads_the_list_and_opens_an_exchange(browser, shared_playground,
                                                             start_in_page, screenshot_dir,
                                                             language):
    context, page, errors = _traffic_page(browser, shared_playground, start_in_page, language,
                                          "phone", is_mobile=True, has_touch=True)
    try:
        width = SIZES["phone"]["width"]
        # Nothing wider than the screen: no sideways scrolling to read a row.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        row = page.locator(ROWS).filter(has=page.locator("td.path", has_text="/index.css")).first
        for cell in ("td.method", "td.path", "td.status"):
            box = row.locator(cell).bounding_box()
            assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width, cell
        assert row.locator("td.path").inner_text() == "/index.css"
        page.screenshot(path=str(screenshot_dir / f"layout-phone-{language}.png"))
        row.tap()
        dialog = page.get_by_role("dialog")
        dialog.locator("#part-response .bytes .ctl").first.wait_for()
        dialog.locator("#part-request .bytes .ctl").first.wait_for()
        box = _box(page, "#detail")
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        request = dialog.locator("#part-request .bytes").inner_text()
        assert request.startswith("GET /index.css HTTP/1.1")
        page.screenshot(path=str(screenshot_dir / f"layout-phone-detail-{language}.png"))
        dialog.get_by_role("button", name=WORDS[language]["close"], exact=True).tap()
        page.locator("#detail").wait_for(state="hidden")
        assert errors == []
    finally:
        context.close()
