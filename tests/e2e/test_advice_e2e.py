"""Advice on each message (issue 16, point 5) in a real Chromium, in English and
Japanese: a real henaserver answers two canned responses a learner might write (a wrong
Content-Length and no Date; lines ended by LF alone and no length), real sockets send the
requests, and the traffic page shows a badge on their rows and, in the detail, each note
of httplint and of the playground with its explanation and RFC link."""

import base64

import pytest
from testkit.program_pages import new_page
from testkit.sandbox_pages import exchange

pytestmark = pytest.mark.browser

WRONG_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello!!"
TYPED_WITH_LF = b"HTTP/1.1 200 OK\nContent-Type: text/plain\n\nhi"

WORDS = {
    "en": {"locale": "en-US", "heading": "Advice",
           "badge": "Advice, problems: 1, warnings: 2",
           "incorrect": "The Content-Length header is incorrect.",
           "bare_lf": "line(s) of the head end with LF alone, without CR.",
           "no_length": "The body has no length",
           "level": "problem", "rule": "The rule:", "category": "General"},
    "ja": {"locale": "ja-JP", "heading": "アドバイス",
           "badge": "アドバイス: 問題 1 件、警告 2 件",
           "incorrect": "Content-Length ヘッダーが正しくありません。",
           "bare_lf": "行が CR なしの LF だけで終わっています。",
           "no_length": "ボディに長さがありません",
           "level": "問題", "rule": "根拠:", "category": "一般"},
}

_RULES = """async ([url, rules]) => (await PG.api("PUT", url, {rules})).rules.length"""


def _send(port: int, path: str) -> None:
    """One request over a real socket, read until the server closes."""
    exchange(port, f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n"
             "Connection: close\r\n\r\n".encode())


@pytest.mark.parametrize("language", ["en", "ja"])
def test_each_message_gets_advice_in_the_list_and_the_detail(
        browser, shared_playground, start_in_page, screenshot_dir, language):
    words = WORDS[language]
    context, page, errors = new_page(browser, shared_playground, words["locale"])
    try:
        sandbox = start_in_page(page, "advice " + language)
        rules = [{"method": "GET", "path": path, "response_b64": base64.b64encode(raw).decode()}
                 for path, raw in (("/wrong", WRONG_LENGTH), ("/typed", TYPED_WITH_LF))]
        assert page.evaluate(_RULES, [sandbox["links"]["rules"], rules]) == 2
        page.goto(shared_playground.base + f"/sandboxes/{sandbox['id']}/traffic/")
        page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
        _send(sandbox["port"], "/wrong")
        _send(sandbox["port"], "/typed")

        # The list: a badge on each row, worst level first, its counts in words.
        rows = page.locator("#traffic-table tbody tr[data-seq]")
        wrong = rows.filter(has=page.locator("td.path", has_text="/wrong")).first
        badge = wrong.locator(".advice-tag[data-level=bad]")
        badge.wait_for(timeout=10_000)
        # 1 bad (the length), 2 warnings (no Date; caches guess its freshness)
        assert badge.inner_text() == "✖ 3"
        assert badge.get_attribute("title").startswith(words["badge"])
        typed = rows.filter(has=page.locator("td.path", has_text="/typed")).first
        typed.locator(".advice-tag[data-level=bad]").wait_for(timeout=10_000)
        page.locator("#traffic-table").screenshot(
            path=str(screenshot_dir / f"advice-badges-{language}.png"))

        # The detail: httplint's note, in the page's language, with why and the RFC.
        wrong.click()
        advice = page.locator("#detail-advice")
        note = advice.locator("li[data-note=CL_INCORRECT]")
        note.wait_for(timeout=10_000)
        assert advice.locator("h3").inner_text() == words["heading"]
        assert note.locator(".advice-text").inner_text() == words["incorrect"]
        assert note.locator(".advice-level").inner_text().lower() == words["level"]
        note.locator("summary").click()
        assert "7" in note.locator(".advice-explanation").inner_text()  # the real size
        link = note.locator(".advice-link a")
        assert link.get_attribute("href") == \
            "https://www.rfc-editor.org/rfc/rfc9110.html#field.content-length"
        assert link.inner_text() == "RFC 9110 field.content-length"
        assert words["rule"] in note.locator(".advice-link").inner_text()
        assert words["category"] in note.locator(".advice-link").inner_text()
        assert advice.locator("li[data-note=DATE_CLOCKLESS]").count() == 1
        advice.screenshot(path=str(screenshot_dir / f"advice-{language}.png"))

        # The playground's own notes, where httplint cannot see the bytes.
        typed.click()
        lf = advice.locator("li[data-note=BARE_LF]")
        lf.wait_for(timeout=10_000)
        assert words["bare_lf"] in lf.locator(".advice-text").inner_text()
        lf.locator("summary").click()
        assert lf.locator(".advice-link a").get_attribute("href").endswith(
            "rfc9112.html#section-2.2")
        no_length = advice.locator("li[data-note=CLOSE_DELIMITED] .advice-text")
        assert words["no_length"] in no_length.inner_text()
        assert advice.locator("li[data-note=CL_INCORRECT]").count() == 0  # the old one went
        assert not errors
    finally:
        context.close()


_SAFE = """async (html) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const { safeFragment, specName } = await import(new URL("advice.js", screen).href);
  const box = safeFragment(html);
  return {html: box.innerHTML, text: box.textContent,
          names: [specName("https://www.rfc-editor.org/rfc/rfc9112.html#section-6.3"),
                  specName("https://fetch.spec.whatwg.org/#cors-protocol")]};
}"""


def test_an_explanation_keeps_only_text_and_safe_links(browser, shared_playground):
    """What httplint's HTML becomes in the page, whatever it holds: no script, no
    handler, no javascript: link, text kept as text."""
    context, page, errors = new_page(browser, shared_playground, "en-US")
    try:
        hostile = ('<p>See <a href="javascript:alert(1)" onclick="x()">this</a> and '
                   '<a href="https://www.rfc-editor.org/rfc/rfc9110.html">that</a>'
                   '<img src=x onerror="alert(2)"><script>alert(3)</script>'
                   '<code>&lt;b&gt;</code></p>')
        got = page.evaluate(_SAFE, hostile)
        assert "<script" not in got["html"] and "<img" not in got["html"]
        assert "onclick" not in got["html"] and "javascript:" not in got["html"]
        assert ('<a href="https://www.rfc-editor.org/rfc/rfc9110.html" target="_blank" '
                'rel="noopener noreferrer">that</a>') in got["html"]
        assert "<code>&lt;b&gt;</code>" in got["html"] and "See this and that" in got["text"]
        assert got["names"] == ["RFC 9112 §6.3", "fetch.spec.whatwg.org/"]
        assert not errors
    finally:
        context.close()
