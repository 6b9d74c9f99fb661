"""Bodies in the exchange detail, in a real Chromium, in English and Japanese (issue 16,
points 4 and 11 and its two byte bugs). A real henaserver sandbox answers with response
rules (exact bytes: gzip, brotli, chunked, a bomb, Shift_JIS...), requests are sent on
raw sockets, and each exchange is opened on the traffic page by its link (?exchange=SEQ).

* Decoded view: gzip'd HTML as source and rendered in a sandboxed frame (its script does
  not run, the image it links to is not fetched); brotli'd JSON re-indented; a JSON
  syntax error marked at its line and column; chunked shown as sent and de-chunked; a
  decompression bomb refused; the text decoding rule stated, a byte not valid in the
  charset shown as an escape (not U+FFFD); a UTF-8 header value shown as "café", not
  "Ã©"; an image previewed.
* Raw view: CR and LF drawn as badges of a legible size; copying a selection gives CR LF,
  not the marks.
* "Copy as curl" keeps the bytes 0xff 0xfe of a target as $'\\xff\\xfe'.
"""

from __future__ import annotations

import base64
import gzip
import json

import brotli
import pytest
from testkit.program_pages import new_page
from testkit.sandbox_pages import exchange, start_in_page
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"locale": "en-US", "decoded": "Decoded", "rendered": "Rendered", "as_sent": "As sent",
           "gzip": "gzip: ", "br": "br: ", "chunked": "chunked: 3 chunks",
           "refused": "a decompression bomb?", "json_error": "Not valid JSON: line 2, column 7",
           "sjis_rule": "Text read as SHIFT_JIS, the charset named in Content-Type.",
           "utf8_rule": "Text read as UTF-8: Content-Type names no charset."},
    "ja": {"locale": "ja-JP", "decoded": "デコード", "rendered": "レンダリング",
           "as_sent": "送られたまま", "gzip": "gzip: ", "br": "br: ",
           "chunked": "chunked: 3 チャンク", "refused": "解凍爆弾",
           "json_error": "JSON として正しくありません: 2 行 7 列",
           "sjis_rule": "Content-Type の charset に従い、テキストを SHIFT_JIS として読みました。",
           "utf8_rule": "Content-Type に charset がないので、テキストを UTF-8 として読みました。"},
}

PAGE = ("<!doctype html><title>t</title><h1>caf\u00e9 \u65e5\u672c</h1>"
        "<script>document.body.append(Object.assign(document.createElement('p'), "
        "{id: 'ran'}))</script><img src='{sandbox}pixel.png'>")
JSON_SENT = b'{"name":"caf\xc3\xa9","list":[1,2.50],"empty":{}}'
JSON_PRETTY = '{\n  "name": "caf\u00e9",\n  "list": [\n    1,\n    2.50\n  ],\n  "empty": {}\n}'
BAD_JSON = b'{"a": 1,\n  "b" 2}'
CHUNKED = b"5\r\nhello\r\n5\r\n, wor\r\n2\r\nld\r\n0\r\nX-Trailer: yes\r\n\r\n"
SJIS = "\u65e5\u672c\u8a9e".encode("shift_jis") + b"\xff!"


def _response(body: bytes, *headers: str, length: bool = True) -> bytes:
    lines = ["HTTP/1.1 200 OK", *headers] + ([f"Content-Length: {len(body)}"] if length else [])
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def _rules(sandbox_url: str) -> list[dict]:
    page = PAGE.replace("{sandbox}", sandbox_url).encode("utf-8")
    bomb = gzip.compress(b"\0" * (2 * 1024 * 1024))
    responses = {
        "/page": _response(gzip.compress(page), "Content-Type: text/html; charset=utf-8",
                           "Content-Encoding: gzip"),
        "/data": _response(brotli.compress(JSON_SENT), "Content-Type: application/json",
                           "Content-Encoding: br"),
        "/bad": _response(BAD_JSON, "Content-Type: application/json"),
        "/chunked": _response(CHUNKED, "Content-Type: text/plain", "Transfer-Encoding: chunked",
                              length=False),
        "/bomb": _response(bomb, "Content-Type: text/plain", "Content-Encoding: gzip"),
        "/sjis": _response(SJIS, "Content-Type: text/plain; charset=Shift_JIS"),
        "/cafe": _response("caf\u00e9".encode(), "X-Name: caf\u00e9", "Content-Type: text/plain"),
    }
    return [{"method": "GET", "path": path, "response_b64": base64.b64encode(data).decode()}
            for path, data in responses.items()]


def _get(port: int, target: bytes) -> bytes:
    return exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 b"Connection: close\r\n\r\n" % port)


class Site:
    """One language's browser session on the shared playground: a page, a sandbox that
    answered every target, the seq of each exchange, and the page's uncaught errors."""

    def __init__(self, browser, playground, lang: str) -> None:
        self.words = WORDS[lang]
        self.lang = lang
        self.context, self.page, self.errors = new_page(
            browser, playground, self.words["locale"], viewport={"width": 1300, "height": 900},
            permissions=["clipboard-read", "clipboard-write"])
        page = self.page
        sandbox = start_in_page(page, f"bodies {lang}")
        port = sandbox["port"]
        page.evaluate("async ([url, rules]) => PG.api('PUT', url, {rules})",
                      [sandbox["links"]["rules"], _rules(f"http://127.0.0.1:{port}/")])
        for target in TARGETS:
            assert _get(port, target).startswith(b"HTTP/1.1 ")
        # Every URL the browser fetched from now on. Not the "request" event: Chromium
        # reports there a request the frame's CSP then blocks (failure "csp"), which
        # never reaches the network, so "fetched" means a request that got an answer.
        self.fetched: list[str] = []
        self.context.on("requestfinished", lambda r: self.fetched.append(r.url))
        api = playground.base + sandbox["links"]["exchanges"]

        def stored() -> dict | None:
            items = page.request.get(api + "?run=all").json()["exchanges"]
            seqs = {i["target"]: i["seq"] for i in items}
            return seqs if len(seqs) >= len(TARGETS) else None

        self.seqs = wait_until(stored, 15, "every exchange to be stored")
        self.traffic = playground.base + f"/sandboxes/{sandbox['id']}/traffic/"

    def open(self, target: str) -> None:
        seq = next(seq for t, seq in self.seqs.items() if t.startswith(target))
        self.page.goto(self.traffic + f"?exchange={seq}")

    def open_decoded(self, target: str):
        self.open(target)
        self.page.get_by_role("tab", name=self.words["decoded"]).click()
        body = self.page.locator("#part-response .bytes")
        body.locator(".body-shown > *").first.wait_for()
        return body


TARGETS = [b"/page", b"/data", b"/bad", b"/chunked", b"/bomb", b"/sjis", b"/cafe",
           b"/logo.png", b"/a\xff\xfe"]


@pytest.fixture(scope="module", params=["en", "ja"])
def site(request, browser, _one_playground):
    """One sandbox per language for the module's tests (each adds only its own sandbox
    in a session of its own, as shared_playground's users do)."""
    made = Site(browser, _one_playground, request.param)
    yield made
    made.context.close()


def test_decoded_bodies(site, screenshot_dir):
    words, page = site.words, site.page
    # gzip'd HTML: the source, then rendered in a frame that runs no script, loads nothing.
    body = site.open_decoded("/page")
    assert words["gzip"] in body.locator(".body-steps").inner_text()
    assert words["utf8_rule"] not in body.inner_text()
    assert "<h1>caf\u00e9 \u65e5\u672c</h1>" in body.locator(".decoded-text").inner_text()
    body.get_by_role("button", name=words["rendered"]).click()
    frame = body.locator("iframe.rendered-html")
    assert frame.get_attribute("sandbox") == ""
    # The policy that keeps the links unloaded travels with the document. (Chromium here
    # loads nothing from a sandboxed srcdoc even without it: this is the check that can fail.)
    assert frame.get_attribute("srcdoc").startswith(
        "<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    inside = page.frame_locator("#part-response iframe.rendered-html")
    assert inside.locator("h1").inner_text() == "caf\u00e9 \u65e5\u672c"
    frame.element_handle().content_frame().wait_for_load_state("load")
    assert inside.locator("#ran").count() == 0  # the script did not run
    assert not [url for url in site.fetched if "pixel.png" in url]  # nor was the image fetched
    body.screenshot(path=str(screenshot_dir / f"bodies-rendered-{site.lang}.png"))

    # brotli'd JSON, re-indented with its numbers as sent.
    body = site.open_decoded("/data")
    assert words["br"] in body.locator(".body-steps").inner_text()
    assert body.locator(".json-pretty").inner_text() == JSON_PRETTY
    assert json.loads(body.locator(".json-pretty").inner_text()) == json.loads(JSON_SENT)

    # A syntax error, marked where it is.
    body = site.open_decoded("/bad")
    assert words["json_error"] in body.locator(".json-error-note").inner_text()
    assert body.locator(".json-error").inner_text() == "2"

    # Chunked: de-chunked by default, and as sent with its sizes on demand.
    body = site.open_decoded("/chunked")
    assert words["chunked"] in body.locator(".body-steps").inner_text()
    assert body.locator(".decoded-text").inner_text() == "hello, world"
    body.get_by_role("button", name=words["as_sent"]).click()
    assert body.locator(".sent-body").inner_text().startswith("5␍␊\nhello␍␊\n5␍␊")

    # A bomb is refused, and the bytes are shown as they came.
    body = site.open_decoded("/bomb")
    assert words["refused"] in body.locator(".body-steps").inner_text()
    assert body.locator(".sent-body").count() == 1 and body.locator(".decoded-text").count() == 0

    body = site.open_decoded("/logo.png")
    image = body.locator("img.preview")
    image.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
    assert site.errors == []


def test_one_text_decoding_rule_invents_no_character(site):
    """The rule is stated; a byte Shift_JIS does not have is an escape, not U+FFFD; a
    UTF-8 header value reads as in the raw view (café), not as Latin-1 (cafÃ©)."""
    words = site.words
    body = site.open_decoded("/sjis")
    assert words["sjis_rule"] in body.locator(".body-charset").inner_text()
    text = body.locator(".decoded-text").inner_text()
    assert text == "\u65e5\u672c\u8a9e\\xff!" and "\ufffd" not in text
    assert body.locator(".escaped-byte").inner_text() == "\\xff"

    body = site.open_decoded("/cafe")
    headers = body.locator("table.headers").inner_text()
    assert "caf\u00e9" in headers and "\u00c3" not in headers
    assert words["utf8_rule"] in body.locator(".body-charset").inner_text()
    assert site.errors == []


def test_cr_lf_badges_are_legible_and_copy_as_bytes(site, screenshot_dir):
    page = site.page
    site.open("/cafe")
    raw = page.locator("#part-request .bytes")
    cr = raw.locator(".ctl").first
    cr.wait_for()
    badge = page.evaluate("""(span) => {
        const style = getComputedStyle(span, "::before");
        return {content: style.content, size: parseFloat(style.fontSize),
                height: span.getBoundingClientRect().height};
    }""", cr.element_handle())
    assert badge["content"] == '"CR"' and badge["size"] >= 10 and badge["height"] >= 10
    raw.select_text()
    page.keyboard.press("Control+C")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("GET /cafe HTTP/1.1\r\nHost: 127.0.0.1:")
    assert "␍" not in copied and "␊" not in copied
    page.locator("#part-request").screenshot(
        path=str(screenshot_dir / f"bodies-raw-{site.lang}.png"))
    assert site.errors == []


def test_copy_as_curl_keeps_bytes_that_are_not_utf8(site):
    page = site.page
    site.open("/a")
    page.locator("#detail-actions button[data-export=curl]").click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()).includes('curl')")
    curl = page.evaluate("navigator.clipboard.readText()")
    assert "--request-target $'/a\\xff\\xfe'" in curl and "\u00ff" not in curl
    assert site.errors == []
