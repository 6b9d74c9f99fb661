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
import socket

import brotli
import pytest
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"locale": "en-US", "decoded": "Decoded", "rendered": "Rendered", "as_sent": "As sent",
           "gzip": "gzip: ", "br": "br: ", "chunked": "chunked: 3 chunks",
           "refused": "a decompression bomb?", "json_error": "Not valid JSON: line 2, column 7",
           "sjis_rule": "Text read as SHIFT_JIS, the charset named in Content-Type.",
           "utf8_rule": "Text read as UTF-8: Content-Type names no charset."},
    "ja": {"locale": "ja-JP", "decoded": "デコード", "rendered": "表示", "as_sent": "送られたまま",
           "gzip": "gzip: ", "br": "br: ", "chunked": "chunked: 3 チャンク",
           "refused": "解凍爆弾", "json_error": "JSON として正しくありません: 2 行 7 列",
           "sjis_rule": "SHIFT_JIS として読みました（Content-Type の charset）。",
           "utf8_rule": "UTF-8 として読みました（Content-Type に charset がありません）。"},
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


def _send(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _get(port: int, target: bytes) -> bytes:
    return _send(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 b"Connection: close\r\n\r\n" % port)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_bodies_decoded_rendered_and_copied_exactly(browser, shared_playground, start_in_page,
                                                    screenshot_dir, lang):
    words = WORDS[lang]
    context = browser.new_context(locale=words["locale"], viewport={"width": 1300, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(shared_playground.base + "/")
    sandbox = start_in_page(page, f"bodies {lang}", page.input_value("#create-port"))
    port = sandbox["port"]
    page.evaluate("async ([url, rules]) => PG.api('PUT', url, {rules})",
                  [sandbox["links"]["rules"], _rules(f"http://127.0.0.1:{port}/")])
    targets = [b"/page", b"/data", b"/bad", b"/chunked", b"/bomb", b"/sjis", b"/cafe",
               b"/logo.png", b"/a\xff\xfe"]
    for target in targets:
        assert _get(port, target).startswith(b"HTTP/1.1 ")
    fetched: list[str] = []  # every URL the browser asks for from now on
    context.on("request", lambda r: fetched.append(r.url))

    api = shared_playground.base + sandbox["links"]["exchanges"]

    def stored() -> dict | None:
        items = page.request.get(api + "?run=all").json()["exchanges"]
        seqs = {i["target"]: i["seq"] for i in items}
        return seqs if len(seqs) >= len(targets) else None

    seqs = wait_until(stored, 15, "every exchange to be stored")
    traffic = shared_playground.base + f"/sandboxes/{sandbox['id']}/traffic/"

    def open_decoded(target: str):
        page.goto(traffic + f"?exchange={seqs[target]}")
        page.get_by_role("tab", name=words["decoded"]).click()
        body = page.locator("#part-response .bytes")
        body.locator(".body-shown > *").first.wait_for()
        return body

    # gzip'd HTML: the source, then rendered in a frame that runs no script, loads nothing.
    body = open_decoded("/page")
    assert words["gzip"] in body.locator(".body-steps").inner_text()
    assert words["utf8_rule"] not in body.inner_text()
    assert "<h1>caf\u00e9 \u65e5\u672c</h1>" in body.locator(".decoded-text").inner_text()
    body.get_by_role("button", name=words["rendered"]).click()
    frame = body.locator("iframe.rendered-html")
    assert frame.get_attribute("sandbox") == ""
    inside = page.frame_locator("#part-response iframe.rendered-html")
    assert inside.locator("h1").inner_text() == "caf\u00e9 \u65e5\u672c"
    frame.element_handle().content_frame().wait_for_load_state("load")
    assert inside.locator("#ran").count() == 0  # the script did not run
    assert not [url for url in fetched if "pixel.png" in url]  # nor was the image fetched
    body.screenshot(path=str(screenshot_dir / f"bodies-rendered-{lang}.png"))

    # brotli'd JSON, re-indented with its numbers as sent.
    body = open_decoded("/data")
    assert words["br"] in body.locator(".body-steps").inner_text()
    assert body.locator(".json-pretty").inner_text() == JSON_PRETTY
    assert json.loads(body.locator(".json-pretty").inner_text()) == json.loads(JSON_SENT)

    # A syntax error, marked where it is.
    body = open_decoded("/bad")
    assert words["json_error"] in body.locator(".json-error-note").inner_text()
    assert body.locator(".json-error").inner_text() == "2"

    # Chunked: de-chunked by default, and as sent with its sizes on demand.
    body = open_decoded("/chunked")
    assert words["chunked"] in body.locator(".body-steps").inner_text()
    assert body.locator(".decoded-text").inner_text() == "hello, world"
    body.get_by_role("button", name=words["as_sent"]).click()
    assert body.locator(".sent-body").inner_text().startswith("5␍␊\nhello␍␊\n5␍␊")

    # A bomb is refused, and the bytes are shown as they came.
    body = open_decoded("/bomb")
    assert words["refused"] in body.locator(".body-steps").inner_text()
    assert body.locator(".sent-body").count() == 1 and body.locator(".decoded-text").count() == 0

    # The rule, stated; the byte 0xff that Shift_JIS does not have, as an escape.
    body = open_decoded("/sjis")
    assert words["sjis_rule"] in body.locator(".body-charset").inner_text()
    text = body.locator(".decoded-text").inner_text()
    assert text == "\u65e5\u672c\u8a9e\\xff!" and "\ufffd" not in text
    assert body.locator(".escaped-byte").inner_text() == "\\xff"

    # A UTF-8 header value reads as in the raw view: café, not cafÃ©.
    body = open_decoded("/cafe")
    headers = body.locator("table.headers").inner_text()
    assert "caf\u00e9" in headers and "\u00c3" not in headers
    assert words["utf8_rule"] in body.locator(".body-charset").inner_text()

    body = open_decoded("/logo.png")
    image = body.locator("img.preview")
    image.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())

    # Raw view: CR and LF as badges a reader can read at 1x; a selection copies CR LF.
    page.goto(traffic + f"?exchange={seqs['/cafe']}")
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
    page.locator("#part-request").screenshot(path=str(screenshot_dir / f"bodies-raw-{lang}.png"))

    # Copy as curl: the target's bytes 0xff 0xfe as bash escapes, not re-encoded.
    odd = next(seq for target, seq in seqs.items() if target.startswith("/a"))
    page.goto(traffic + f"?exchange={odd}")
    page.locator("#detail-actions button[data-export=curl]").click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()).includes('curl')")
    curl = page.evaluate("navigator.clipboard.readText()")
    assert "--request-target $'/a\\xff\\xfe'" in curl and "\u00ff" not in curl
    assert errors == []
    context.close()
