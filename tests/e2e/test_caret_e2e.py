"""The caret of a failed check (bytes.js ``renderText`` and ``renderHex`` with a mark),
in a real Chromium: the marked byte is in a span of its own, in the raw view and in both
columns of the hex view, and marking it changes no other character of either view."""

import pytest

pytestmark = pytest.mark.browser

CARET_IN_PAGE = """async ([message, mark]) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const b = await import(new URL("bytes.js", screen).href);
  const bytes = new TextEncoder().encode(message);
  const raw = document.createElement("div");
  const plainRaw = document.createElement("div");
  b.renderText(raw, bytes, mark);
  b.renderText(plainRaw, bytes);
  const hex = document.createElement("div");
  b.renderHex(hex, bytes, mark);
  const marks = (box) => [...box.querySelectorAll(".marked-byte")].map(
    (m) => [m.textContent, m.dataset.offset]);
  return {raw: marks(raw), hex: marks(hex), rawText: raw.textContent,
          plainRaw: plainRaw.textContent, hexText: hex.textContent, dump: b.hexDump(bytes)};
}"""

# A status line ending in a bare LF (offset 15), then a header line and a Japanese body.
MESSAGE = "HTTP/1.1 200 OK\nContent-Length: 6\r\n\r\n日本"


@pytest.mark.parametrize("mark, raw, hex_pair, ascii", [
    (15, "␊", "0a", "."),          # the bare LF: what a broken CRLF looks like
    (0, "H", "48", "H"),           # the first byte
    (33, "␍", "0d", "."),          # a CR on the second row of the dump (offset 0x21)
    (40, "本", "e6", "."),         # the first byte of a 3-byte character marks it whole
    (42, "本", "ac", "."),         # ... and so does its last byte
    (39, "日", "a5", "."),         # the last byte of the one before
])
def test_the_marked_byte_has_its_span_in_raw_and_hex(browser, shared_playground, mark, raw,
                                                     hex_pair, ascii):
    context = browser.new_context()
    page = context.new_page()
    page.goto(shared_playground.base + "/")
    got = page.evaluate(CARET_IN_PAGE, [MESSAGE, mark])
    assert got["raw"] == [[raw, str(mark)]]
    assert got["hex"] == [[hex_pair, str(mark)], [ascii, str(mark)]]
    # Nothing else changed: the same text as without a mark, the same dump.
    assert got["rawText"] == got["plainRaw"]
    assert got["hexText"] == got["dump"]
    context.close()


def test_a_mark_outside_the_bytes_marks_nothing(browser, shared_playground):
    context = browser.new_context()
    page = context.new_page()
    page.goto(shared_playground.base + "/")
    for mark in (-1, len(MESSAGE.encode()) , 10_000):
        got = page.evaluate(CARET_IN_PAGE, [MESSAGE, mark])
        assert got["raw"] == [] and got["hex"] == []
        assert got["hexText"] == got["dump"]
    context.close()
