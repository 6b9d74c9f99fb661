"""The composer's tools in a real Chromium, in English and Japanese (issue 16, point 9):
a pasted curl command becomes the exact bytes curl sends, the request is copied as an
escaped string, Ctrl+Enter sends and sends again, and one request goes to two of the
learner's sandboxes with the answers compared byte for byte."""

import base64

import pytest
from testkit.language import in_language
from testkit.sandbox_pages import start_in_page

from playground.compose.curl import CURL_VERSION

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"explain": "nothing sent yet", "refused": "is not supported by the composer",
           "copied": "Copied the request as an escaped string.",
           "differs": "differs from the first answer"},
    "ja": {"explain": "まだ何も送っていません", "refused": "コンポーザーでは使えません",
           "copied": "リクエストをエスケープした文字列としてコピーしました。",
           "differs": "最初の応答と異なります"},
}

RAWS = """async (url) => {
  const items = (await (await fetch(url)).json()).exchanges;
  return Promise.all(items.map(async (i) =>
    btoa(String.fromCharCode(...new Uint8Array(
      await (await fetch(url + i.seq + "/request.raw")).arrayBuffer())))));
}"""


def _traffic_page(sandbox_in_new_session, site, language: str, name: str):
    page, sandbox, errors = sandbox_in_new_session(name)
    in_language(page, site.base, language)
    page.goto(site.base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    page.click("#panel-tab-composer")  # the composer has a tab of its own (panes.js)
    return page, sandbox, errors


@pytest.mark.parametrize("language", ["en", "ja"])
def test_curl_paste_escaped_copy_and_ctrl_enter(sandbox_in_new_session, shared_playground,
                                                language):
    words = WORDS[language]
    page, sandbox, errors = _traffic_page(sandbox_in_new_session, shared_playground,
                                          language, "curl")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    host = f"localhost:{sandbox['port']}"
    expected = (f"POST /form HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/{CURL_VERSION}\r\n"
                "Accept: */*\r\nX-Test: 1\r\nContent-Length: 7\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\nname=é").encode()

    # A command curl refuses to turn into bytes here is named, in the page's language.
    page.fill("#composer-curl", "curl -F a=b http://localhost/")
    page.click("#composer-from-curl")
    page.locator("#messages .notice.error", has_text=words["refused"]).wait_for()

    page.fill("#composer-curl", f"curl -s -d 'name=é' -H 'X-Test: 1' http://{host}/form")
    page.press("#composer-curl", "Enter")
    page.wait_for_function("() => document.getElementById('composer-text').value"
                           ".startsWith('POST /form HTTP/1.1')")
    assert page.input_value("#composer-endings") == "exact"
    assert words["explain"] in page.inner_text("#composer-explain")
    assert "-s" in page.inner_text("#composer-explain")  # named as ignored

    page.click("#composer-copy-string")
    page.locator("#messages .notice", has_text=words["copied"]).wait_for()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == ('"POST /form HTTP/1.1\\r\\nHost: ' + host + '\\r\\nUser-Agent: curl/'
                      + CURL_VERSION + '\\r\\nAccept: */*\\r\\nX-Test: 1\\r\\n'
                      'Content-Length: 7\\r\\nContent-Type: application/x-www-form-urlencoded'
                      '\\r\\n\\r\\nname=\\xc3\\xa9"')

    # Bytes, not characters: any byte comes back from the string exactly.
    escaped = page.evaluate("""async () => {
      const screen = document.querySelector("script[type=module][src]").src;
      const { escapedString } = await import(new URL("composer-tools.js", screen).href);
      return escapedString(Uint8Array.from([0xff, 0xfe, 0x22, 0x5c, 0x09, 0x00, 0x7f, 0x41]));
    }""")
    assert escaped == r'"\xff\xfe\"\\\t\x00\x7fA"'

    # Ctrl+Enter sends the exact bytes, and again: two exchanges with those bytes.
    page.press("#composer-text", "Control+Enter")
    page.wait_for_function("() => !document.getElementById('composer-result').hidden"
                           " && !document.getElementById('composer-send').disabled",
                           timeout=10_000)
    page.press("#composer-text", "Control+Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('#traffic-table tbody tr[data-seq]').length === 2",
        timeout=10_000)
    raws = page.evaluate(RAWS, sandbox["links"]["exchanges"])
    assert [base64.b64decode(r) for r in raws] == [expected, expected]

    # The detail's copy gives the recorded request the same way.
    page.click("#panel-tab-exchanges")
    page.locator("#traffic-table tbody tr[data-seq]").first.click()
    page.locator("#detail-actions button[data-replay=string]").click()
    page.wait_for_function("async (want) => (await navigator.clipboard.readText()) === want",
                           arg=copied)
    # Ctrl+Enter outside the composer re-sends the exchange open in the detail.
    page.locator("#detail-summary").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('#traffic-table tbody tr[data-seq]').length === 3",
        timeout=10_000)
    assert [base64.b64decode(r) for r in page.evaluate(RAWS, sandbox["links"]["exchanges"])] \
        == [expected] * 3
    assert errors == []


@pytest.mark.parametrize("language", ["en", "ja"])
def test_one_request_to_two_sandboxes_compared(sandbox_in_new_session, shared_playground,
                                               language):
    words = WORDS[language]
    page, sandbox, errors = _traffic_page(sandbox_in_new_session, shared_playground,
                                          language, "full")
    bare = start_in_page(page, "bare", mode="no-content-type")
    assert bare["status"] == "running"

    page.fill("#composer-text", "GET /index.css HTTP/1.1\nHost: localhost\nConnection: close\n\n")
    page.click("#composer-several summary")
    choice = page.locator(f"#composer-several-list input[value='{bare['id']}']")
    choice.check()
    page.click("#composer-several-send")
    cards = page.locator("#composer-several-results .answer")
    cards.nth(1).wait_for(timeout=15_000)
    assert cards.nth(0).get_attribute("data-sandbox") == str(sandbox["id"])
    second = cards.nth(1)
    assert second.get_attribute("data-sandbox") == str(bare["id"])
    assert second.locator(".verdict.differs").inner_text() == words["differs"]
    assert "HTTP/1.1 200 OK" in second.locator(".status-line").inner_text()
    # The wrong Content-Type is marked on both sides (no-content-type mode labels every
    # file text/html).
    sides = second.locator(".side")
    assert sides.nth(0).locator(".diff-byte:not(.expected)").first.inner_text() == "html"
    assert sides.nth(1).locator(".diff-byte:not(.expected)").first.inner_text() \
        == "css; charset=utf-8"
    assert errors == []
