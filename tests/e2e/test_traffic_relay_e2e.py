"""The capture relay's extras on the traffic page, in a real Chromium, in both languages:
an exchange whose ``mistake`` the relay named shows it in the list and, opened, explains
it from the glossary with its RFC section; a ``stream`` record is listed raw; a request
still waiting for its answer ticks "no response yet (N s)" until its exchange comes.

The shared playground runs henaserver sandboxes (a program sandbox behind the relay is
another branch's), so the relay's rows are written into its database the way its
ingest writer stores them (a copy of a real exchange, with the relay's fields), and the
page reads them through the real websocket replay and streams API. The ticking row is
driven through the page's own module (traffic-relay.js) with the item the ingest writer
pushes (messages.waiting_item)."""

from __future__ import annotations

import sqlite3
import time
import urllib.request

import pytest

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"tag": "body shorter than announced", "outcome": "closed by the server",
           "explain": "fewer body bytes", "waiting": "no response yet (",
           "streams": "Bytes outside any exchange", "no_response": "no response"},
    "ja": {"tag": "ボディが宣言より短い", "outcome": "サーバーが切断",
           "explain": "Content-Length で知らせたより少ない", "waiting": "まだ応答なし（",
           "streams": "どのやり取りにも属さないバイト列", "no_response": "応答なし"},
}
STREAM = b"\x16\x03\x01 not HTTP\r\n"


def _relay_rows(db: str, sandbox_id: int) -> int:
    """A stored exchange of the sandbox copied as the relay would have recorded it
    (body_too_short, server_closed), and one stream record. Returns the new seq."""
    with sqlite3.connect(db, timeout=20) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(playground_exchange)")
                   if row[1] != "id"]
        seq = conn.execute("SELECT MAX(seq) FROM playground_exchange WHERE sandbox_id=?",
                           (sandbox_id,)).fetchone()[0] + 1
        values = {"seq": seq, "mistake": "body_too_short", "outcome": "server_closed",
                  "target": "/relay-short"}
        select = ", ".join("?" if c in values else c for c in columns)
        conn.execute(f"INSERT INTO playground_exchange ({', '.join(columns)}) "
                     f"SELECT {select} FROM playground_exchange WHERE sandbox_id=? "
                     f"ORDER BY seq LIMIT 1",
                     [values[c] for c in columns if c in values] + [sandbox_id])
        run = conn.execute("SELECT run_id FROM playground_exchange WHERE sandbox_id=? "
                           "AND seq=?", (sandbox_id, seq)).fetchone()[0]
        conn.execute("INSERT INTO playground_streamrecord (sandbox_id, run_id, conn, "
                     "direction, reason, data, length, truncated, time_us) VALUES "
                     "(?, ?, 3, 'to_server', 'after a request that is not HTTP', ?, ?, 0, ?)",
                     (sandbox_id, run, STREAM, len(STREAM), int(time.time() * 1e6)))
        conn.execute("UPDATE playground_sandbox SET last_seq=? WHERE id=?", (seq, sandbox_id))
    return seq


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_relay_mistake_a_stream_and_a_waiting_request_are_shown(
        sandbox_in_new_session, shared_playground, lang):
    page, sandbox, errors = sandbox_in_new_session(f"relay view {lang}")
    site = shared_playground
    words = WORDS[lang]
    page.locator(f"#lang-switch button[value={lang}]").click()
    page.wait_for_load_state("load")
    page.goto(site.base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    urllib.request.urlopen(f"http://127.0.0.1:{sandbox['port']}/", timeout=10).read()
    page.locator("#traffic-table tbody tr[data-seq]").first.wait_for(timeout=10_000)

    seq = _relay_rows(site.env["PLAYGROUND_DB"], sandbox["id"])
    page.reload()  # the websocket replays the stored history, the relay's row with it
    row = page.locator(f"#traffic-table tbody tr[data-seq='{seq}']")
    row.wait_for(timeout=10_000)
    assert row.locator(".mistake-tag").inner_text() == words["tag"]
    assert row.locator(".outcome-tag").inner_text() == words["outcome"]
    row.click()
    mistake = page.locator("#detail-mistake")
    mistake.locator(".mistake-text").wait_for(timeout=10_000)
    assert words["tag"] in mistake.inner_text()
    assert words["explain"] in mistake.locator(".mistake-text").inner_text()
    link = mistake.locator("a.explain-link")
    assert link.get_attribute("href") == "https://www.rfc-editor.org/rfc/rfc9112#section-6.3"

    streams = page.locator("#streams")
    streams.locator(".stream-record").wait_for(timeout=10_000)
    assert words["streams"] in streams.inner_text()
    assert "not HTTP" in streams.locator(".bytes").inner_text()

    # A request announced by the relay (exchange.waiting), three seconds ago: its row
    # ticks each second, and goes when its exchange arrives.
    page.evaluate("""async () => {
      const { Waiting } = await import("/static/playground/js/traffic-relay.js");
      window.testWaiting = new Waiting(document.getElementById("waiting-rows"));
      window.testWaiting.add([{conn: 9, index: 0, method: "GET", target: "/slow",
                               since_us: (Date.now() - 3000) * 1000, timeout_ms: 10000}]);
    }""")
    waiting = page.locator("#waiting-rows tr[data-waiting='9.0'] .waiting-for")
    first = waiting.inner_text()
    assert first.startswith(words["waiting"])
    page.wait_for_function("(t) => document.querySelector(\"#waiting-rows .waiting-for\")"
                           ".textContent !== t", arg=first, timeout=5_000)
    page.evaluate("() => window.testWaiting.answered([{conn: 9, index: 0}])")
    assert page.locator("#waiting-rows tr").count() == 0
    # On connect the page gets the whole set still waiting: rows not in it go.
    page.evaluate("""() => {
      const row = (conn) => ({conn, index: 0, method: "GET", target: "/r" + conn,
                              since_us: Date.now() * 1000, timeout_ms: 10000});
      window.testWaiting.add([row(7), row(8)]);
      window.testWaiting.add([row(8)], true);
    }""")
    assert page.locator("#waiting-rows tr").evaluate_all(
        "(rows) => rows.map((r) => r.dataset.waiting)") == ["8.0"]
    page.evaluate("() => window.testWaiting.add([], true)")
    assert page.locator("#waiting-rows tr").count() == 0
    # A relay exchange that ended with no answer is not called "(record-only)".
    said = page.evaluate("""async () => {
      const { outcomeText } = await import("/static/playground/js/outcomes.js");
      return [outcomeText({outcome: "no_response", reason: "server gone"}),
              outcomeText({outcome: "no_response", reason: "record-only mode: nothing is sent"})];
    }""")
    assert said[0] == words["no_response"] and said[1] != said[0]
    assert errors == []
