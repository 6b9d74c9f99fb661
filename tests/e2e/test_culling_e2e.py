"""The card of a sandbox the idle culler stopped says why and when, in English and in
Japanese (sandboxes/culling.py; the card is static/playground/js/cards.js), on a
playground whose idle time is two seconds."""

import pytest

CASES = [
    ("en-US", "stopped after 2 seconds with no traffic and no viewer", "stopped at "),
    ("ja-JP", "通信も閲覧者もないまま 2 秒たったので停止しました", "に停止"),
]


@pytest.fixture
def idle_playground(playground_factory, monkeypatch, compiled_translations):
    monkeypatch.setenv("PLAYGROUND_IDLE_STOP", "2")
    return playground_factory()


def test_the_card_says_why_and_when_an_idle_sandbox_stopped(browser, idle_playground,
                                                           start_in_page):
    for locale, why, when in CASES:
        context = browser.new_context(viewport={"width": 1200, "height": 900},
                                      locale=locale)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(idle_playground.base + "/")
            start_in_page(page, f"idle {locale}", page.input_value("#create-port"))
            card = page.locator(".card", has_text=f"idle {locale}")
            # The home page polls: the card turns stopped by itself, and says why.
            card.locator(".badge.status-stopped").wait_for(timeout=30_000)
            card.locator(".problem-text", has_text=why).wait_for(timeout=5_000)
            assert when in card.locator(".facts").inner_text()
            assert not errors, errors
        finally:
            context.close()
