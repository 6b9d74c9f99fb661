"""Comparing two exchanges (issue 16, point 3) in a real Chromium, in English and
Japanese: the tutorial's step 5 (no Content-Type detection: the CSS comes as text/html)
against step 6 (the full server), two sandboxes of one learner. Pick one exchange on
the first sandbox's traffic page, "Compare with" on the second's, and see heads and
bodies side by side with the differing bytes marked."""

import pytest
from testkit.language import in_language
from testkit.sandbox_pages import exchange, last_stored_seq, start_in_page
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

SAME_BYTES = {"en": "the same bytes", "ja": "同じバイト列"}
PICK = {"en": "Pick for comparison", "ja": "比較用に選ぶ"}

CSS = b"GET /index.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.screenshots
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_step_five_against_step_six(browser, shared_playground, lang, screenshot_dir):
    base = shared_playground.base
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    in_language(page, base, lang)
    five = start_in_page(page, "step 5", mode="no-content-type")
    six = start_in_page(page, "step 6", mode="full")
    assert b"text/html" in exchange(five["port"], CSS).split(b"\r\n\r\n")[0]
    assert b"text/css" in exchange(six["port"], CSS).split(b"\r\n\r\n")[0]
    seq_five, seq_six = last_stored_seq(page, five), last_stored_seq(page, six)

    # Step 5's CSS answer, opened from its traffic page, is picked...
    page.goto(base + five["links"]["traffic"] + f"?exchange={seq_five}")
    pick = page.locator("#detail-actions button[data-compare-pick]")
    pick.wait_for(timeout=10_000)
    assert pick.inner_text() == PICK[lang]
    pick.click()
    assert pick.is_disabled()  # picked: this one cannot be compared with itself
    assert page.locator("#detail-actions a.compare-with").count() == 0

    # ... and step 6's is compared with it, from the other sandbox's page.
    page.goto(base + six["links"]["traffic"] + f"?exchange={seq_six}")
    link = page.locator("#detail-actions a.compare-with")
    link.wait_for(timeout=10_000)
    assert "step 5" in link.inner_text() and f"#{seq_five}" in link.inner_text()
    link.click()
    page.wait_for_url("**/compare/?a=*")
    page.locator("#compare-result:not([hidden])").wait_for(timeout=10_000)
    assert page.get_attribute("html", "lang") == lang
    assert page.input_value("#compare-a-seq") == str(seq_five)
    assert page.input_value("#compare-b-sandbox") == str(six["id"])

    head = page.locator("#compare-response .compare-part[data-part=head]")
    a_marked = head.locator(".compare-col").nth(0).locator(".diff-byte:not(.expected)")
    b_marked = head.locator(".compare-col").nth(1).locator(".diff-byte:not(.expected)")
    assert "html" in a_marked.all_inner_texts()
    assert any(text.startswith("css") for text in b_marked.all_inner_texts())
    # The whole head is there, CR/LF visible, the marks inside it.
    assert head.locator(".compare-col").nth(0).inner_text().startswith("A · ")
    assert "HTTP/1.1 200 OK␍␊" in head.locator("pre").nth(0).inner_text()
    # The same file on both sides: the bodies are the same bytes.
    body = page.locator("#compare-response .compare-part[data-part=body]")
    assert body.get_attribute("data-same") == "true"
    assert body.locator(".compare-part-verdict").inner_text() == SAME_BYTES[lang]
    assert body.locator(".diff-byte").count() == 0
    page.screenshot(path=str(screenshot_dir / f"compare-{lang}.png"), full_page=True)
    # The requests differ in Host's port at most: their paths are the same.
    request_head = page.locator("#compare-request .compare-part[data-part=head] pre").nth(0)
    assert request_head.inner_text().startswith("GET /index.css HTTP/1.1␍␊")

    # Swap: A is now step 6.
    page.locator("#compare-swap").click()
    page.wait_for_function("(s) => new URLSearchParams(location.search).get('a') === s",
                           arg=f"{six['id']}:{seq_six}")
    head.locator(".compare-col").nth(0).locator(".diff-byte").first.wait_for()
    wait_until(lambda: any(t.startswith("css") for t in head.locator(".compare-col").nth(0)
                           .locator(".diff-byte:not(.expected)").all_inner_texts()),
               10, "step 6's css on the left")
    assert errors == []
    context.close()


def test_a_bad_pick_is_said_plainly(browser, shared_playground):
    page = browser.new_context().new_page()
    page.goto(shared_playground.base + "/compare/?a=1:x&b=999999:1")
    page.locator("#compare-form").wait_for()
    assert page.locator("#compare-result").is_hidden()
    page.goto(shared_playground.base + "/compare/?a=999999:1&b=999998:1")
    notice = page.locator("#messages .notice.error")
    notice.wait_for(timeout=10_000)
    assert "SANDBOX:SEQ" in notice.inner_text() or "no such sandbox" in notice.inner_text()
    page.context.close()
