"""Responses that stream (issue 16, point 10), in a real Chromium, in both languages: the
rules editor's "responses that stream" preset saved on the sandbox page (each rule with
how it is sent), then on the traffic page a server-sent-events response from the real
henaserver grows in its row as its events leave, until its exchange replaces the row.

Every state the growing row goes through is recorded in the page by a MutationObserver,
so the test sees the response grow however late it looks (no timing is asserted)."""

from __future__ import annotations

import socket
import threading

import pytest
from testkit.language import in_language

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"events": "server-sent events", "sending": "sending:"},
    "ja": {"events": "Server-Sent Events", "sending": "送信中"},
}

RECORD_GROWTH = """() => {
  window.seen = [];
  const rows = document.getElementById("waiting-rows");
  new MutationObserver(() => {
    const row = rows.querySelector("tr.growing");
    if (!row) return;
    const bytes = row.querySelector(".progress-bytes").textContent;
    const label = row.querySelector(".progress-label").textContent;
    const last = window.seen[window.seen.length - 1];
    if (!last || last.bytes !== bytes || last.label.split("(")[0] !== label.split("(")[0]) {
      window.seen.push({ bytes, label, sent: row.dataset.sent });
    }
  }).observe(rows, { childList: true, subtree: true, characterData: true, attributes: true });
}"""


def _read_all(port: int, path: str, into: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        while data := sock.recv(65536):
            into.append(data)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_streamed_response_grows_on_the_traffic_page(
        sandbox_in_new_session, shared_playground, lang):
    page, sandbox, errors = sandbox_in_new_session(f"streaming {lang}")
    site, words = shared_playground, WORDS[lang]
    in_language(page, site.base, lang)

    page.goto(site.base + sandbox["links"]["page"])
    page.click("#rule-presets [data-preset=streams]")
    events_row = page.locator(".rule-row").nth(3)
    assert events_row.locator(".rule-path").input_value() == "/events"
    assert events_row.locator(".rule-send").input_value() == "events"
    assert words["events"] in events_row.locator(".rule-send option:checked").inner_text()
    assert events_row.locator(".rule-every").input_value() == "1000"
    page.click("#rules-save")
    page.wait_for_function("() => /4/.test(document.getElementById('rules-state').textContent)")

    page.goto(site.base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    page.evaluate(RECORD_GROWTH)
    received: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(sandbox["port"], "/events", received))
    reader.start()
    exchange = page.locator("#traffic-table tbody tr[data-seq]", has_text="/events")
    exchange.wait_for(timeout=30_000)
    reader.join(30)
    assert page.locator("#waiting-rows tr").count() == 0  # the exchange replaced it

    seen = page.evaluate("() => window.seen")
    sent = b"".join(received)
    assert sent.endswith(b"data: last event; the server closes the connection now\n\n")
    texts = [state["bytes"] for state in seen]
    # It grew: head alone, then each event in turn, each state the one before plus more.
    assert any("text/event-stream" in t and "first event" not in t for t in texts), texts
    assert any("first event" in t and "tick" not in t for t in texts), texts
    assert any("tick" in t for t in texts), texts
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False)), texts
    assert any(state["label"].startswith(words["sending"]) for state in seen), seen
    assert errors == []
