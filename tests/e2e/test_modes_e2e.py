"""Modes in a real Chromium: the starter page's heading is red in the full mode and not
in the "no Content-Type detection" mode, where the CSS arrives as text/html and the
browser ignores it. The mode is chosen on the sandbox's page."""

import pytest

pytestmark = pytest.mark.browser
RED = "rgb(255, 0, 0)"


def _heading_colour(browser, url: str) -> str:
    """In a fresh context: an empty cache, as after Ctrl+Shift+R (a cached text/css
    stylesheet from the full mode would otherwise still colour the heading)."""
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(url)
    tab.wait_for_load_state("load")
    colour = tab.evaluate("getComputedStyle(document.querySelector('h1')).color")
    context.close()
    return colour


def test_no_content_type_mode_loses_the_red_heading(browser, sandbox_in_new_session,
                                                    shared_playground):
    page, sandbox, errors = sandbox_in_new_session("modes")
    site = shared_playground
    context = page.context
    url = sandbox["url"] + "index.html"
    assert _heading_colour(browser, url) == RED  # full mode: CSS as text/css

    page.goto(site.base + sandbox["links"]["page"])
    page.locator("#mode-choices input[value=no-content-type]").check()
    assert "text/html" in page.inner_text("#mode-notice")
    page.click("#mode-apply")
    page.wait_for_function(
        "() => /restarted/.test(document.getElementById('mode-state').textContent)",
        timeout=15_000)
    assert _heading_colour(browser, url) != RED  # the stylesheet was ignored

    # Back to full: red again.
    page.locator("#mode-choices input[value=full]").check()
    page.click("#mode-apply")
    page.wait_for_function(
        "() => /Full server/.test(document.getElementById('mode-state').textContent)",
        timeout=15_000)
    assert _heading_colour(browser, url) == RED

    # Rules on the same page, applied without restart: /test -> Hello.
    page.click("#rule-presets [data-preset=test-hello]")
    page.click("#rules-save")
    page.wait_for_function(
        "() => /2 rules saved/.test(document.getElementById('rules-state').textContent)")
    tab = context.new_page()
    tab.goto(sandbox["url"] + "test")
    assert tab.inner_text("body") == "Hello"
    tab.close()
    assert errors == []
