"""The traffic list of issue 16 in a real Chromium against a real playground and a real
sandbox, in English and in Japanese:

* point 6: the list holds the whole retained history but draws only the rows on screen
  (virtual scrolling), and the filter is applied once after a run of keystrokes;
* point 7 (the list's keys): ↑/↓ move through the rows, Enter opens, Esc closes, "/"
  goes to the filter; the rows are a grid whose selected row is focusable and says so;
* point 8: filters on headers, bodies, regular expressions and negation (the server
  answers header and body tokens), a refused pattern said in the page's language, and
  sortable columns.
"""

import http.client

import pytest
from testkit import traffic_list
from testkit.language import in_language
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

LANGS = ["en", "ja"]


def _traffic(page, base: str, sandbox: dict) -> None:
    page.goto(base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)


def _get_all(port: int, targets: list[str]) -> None:
    """GET each target in turn on one keep-alive connection (so seq order is this order)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        for target in targets:
            conn.request("GET", target)
            conn.getresponse().read()
    finally:
        conn.close()


def _drawn(page) -> list[int]:
    return [int(s) for s in page.eval_on_selector_all(
        "#traffic-table tbody tr[data-seq]", "rows => rows.map(r => r.dataset.seq)")]


def _open(sandbox_in_new_session, shared_playground, lang, name, targets):
    page, sandbox, errors = sandbox_in_new_session(name)
    in_language(page, shared_playground.base, lang)
    _traffic(page, shared_playground.base, sandbox)
    _get_all(sandbox["port"], targets)
    wait_until(lambda: traffic_list.held(page) == len(targets), 15,
               f"{len(targets)} rows held", explain=lambda: str(traffic_list.held(page)))
    return page, sandbox, errors


@pytest.mark.parametrize("lang", LANGS)
def test_the_whole_history_is_held_and_only_the_rows_on_screen_drawn(
        sandbox_in_new_session, shared_playground, lang):
    targets = [f"/index.html?n={i}" for i in range(300)]
    page, _, errors = _open(sandbox_in_new_session=sandbox_in_new_session,
                            shared_playground=shared_playground, lang=lang,
                            name=f"virtual {lang}", targets=targets)
    # Following the newest: it is drawn, and only a screenful (and a few around it) is.
    wait_until(lambda: _drawn(page) and _drawn(page)[-1] == 300, 10, "the newest row drawn",
               explain=lambda: str(_drawn(page)[-3:]))
    assert len(_drawn(page)) < 60
    # The grid says how many rows it has, the header and the run's divider included.
    assert page.get_attribute("#traffic-table", "aria-rowcount") == str(300 + 2)
    assert page.get_attribute("#traffic-table", "role") == "grid"
    # The scroll bar is the whole list's: at the top, the oldest; and every row is there.
    traffic_list.to_top(page)
    wait_until(lambda: 1 in _drawn(page), 10, "the oldest row drawn at the top")
    assert 300 not in _drawn(page)
    assert traffic_list.seqs(page) == list(range(1, 301))
    # Ten keystrokes in a row filter once (debounced), then the list is the 11 matches.
    page.evaluate("""(text) => {
      const box = document.getElementById("filter");
      performance.clearMeasures("list:filter");
      for (const ch of text) {
        box.value += ch;
        box.dispatchEvent(new Event("input", {bubbles: true}));
      }
    }""", "n=29")
    wait_until(lambda: page.evaluate(
        "() => performance.getEntriesByName('list:filter').length") == 1, 10, "one filtering")
    matched = {"en": "11 match the filter", "ja": "11 件が絞り込み条件に一致"}[lang]
    wait_until(lambda: matched in page.text_content("#showing"), 10, matched,
               explain=lambda: page.text_content("#showing"))
    assert traffic_list.seqs(page) == [30, *range(291, 301)]
    assert page.evaluate("() => performance.getEntriesByName('list:filter').length") == 1
    assert errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_list_is_used_from_the_keyboard(sandbox_in_new_session, shared_playground, lang):
    page, _, errors = _open(sandbox_in_new_session=sandbox_in_new_session,
                            shared_playground=shared_playground, lang=lang,
                            name=f"keys {lang}", targets=["/", "/index.css", "/missing"])
    rows = page.locator("#traffic-table tbody tr[data-seq]")
    wait_until(lambda: rows.count() == 3, 10, "three rows drawn")
    # Tab from the last column's sort button reaches a row (the grid's one tab stop).
    page.focus("#traffic-table thead button[data-sort=duration]")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.seq") == "1"
    # ↓ moves the selection, and says so; Enter opens the selected exchange.
    page.keyboard.press("ArrowDown")
    second = page.locator("#traffic-table tr[data-seq='2']")
    assert second.get_attribute("aria-selected") == "true"
    assert page.evaluate("() => document.activeElement.dataset.seq") == "2"
    page.keyboard.press("Enter")
    title = page.locator("#detail-title")
    wait_until(lambda: page.locator("#detail").is_visible() and "/index.css" in title.inner_text(),
               10, "the detail of row 2", explain=title.inner_text)
    # Esc closes it and gives the focus back to the row; ↑ and ↓ stop at the ends.
    page.keyboard.press("Escape")
    assert page.locator("#detail").is_hidden()
    assert page.evaluate("() => document.activeElement.dataset.seq") == "2"
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.seq") == "3"
    page.keyboard.press("Home")
    assert page.get_attribute("#traffic-table tr[data-seq='1']", "aria-selected") == "true"
    assert page.get_attribute("#traffic-table tr[data-seq='3']", "aria-selected") == "false"
    # "/" goes to the filter box; typed there, "/" is a character like any other.
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "filter"
    page.keyboard.type("/missing")
    assert page.input_value("#filter") == "/missing"
    wait_until(lambda: _drawn(page) == [3], 10, "only /missing listed",
               explain=lambda: str(_drawn(page)))
    assert errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_a_drawn_row_stays_in_the_page_while_traffic_arrives(
        sandbox_in_new_session, shared_playground, lang):
    """Points 6 and 7: new rows and new counts redraw the list, and a row still drawn stays
    the same element (the browser lays out only the new rows; the focus on a row, and the
    row an open detail returns the focus to, are never replaced under the learner)."""
    page, sandbox, errors = _open(sandbox_in_new_session=sandbox_in_new_session,
                                  shared_playground=shared_playground, lang=lang,
                                  name=f"stays {lang}", targets=["/", "/index.css"])
    wait_until(lambda: _drawn(page) == [1, 2], 10, "two rows drawn",
               explain=lambda: str(_drawn(page)))
    page.evaluate("() => { window.firstRow = document.querySelector('tr[data-seq=\"1\"]'); }")
    page.focus("#traffic-table thead button[data-sort=duration]")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.seq") == "2"
    _get_all(sandbox["port"], ["/a", "/b", "/c"])
    wait_until(lambda: _drawn(page) == [1, 2, 3, 4, 5], 10, "five rows drawn",
               explain=lambda: str(_drawn(page)))
    wait_until(lambda: page.text_content("#c-requests").strip() == "5", 10, "the counts at 5",
               explain=lambda: page.text_content("#c-requests"))
    assert page.evaluate(
        "() => window.firstRow === document.querySelector('tr[data-seq=\"1\"]')")
    assert page.evaluate("() => document.activeElement.dataset.seq") == "2"
    # Opened with Enter; traffic meanwhile; Esc gives the focus back to the same row.
    page.evaluate("() => { window.secondRow = document.activeElement; }")
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for()
    _get_all(sandbox["port"], ["/d"])
    wait_until(lambda: traffic_list.held(page) == 6, 10, "six rows held",
               explain=lambda: str(traffic_list.held(page)))
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement === window.secondRow")
    assert errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_filters_on_headers_bodies_patterns_and_negation_and_sorting(
        sandbox_in_new_session, shared_playground, lang):
    targets = ["/", "/index.css", "/missing", "/index.html", "/logo.png", "/index.css?again"]
    page, _, errors = _open(sandbox_in_new_session=sandbox_in_new_session,
                            shared_playground=shared_playground, lang=lang,
                            name=f"filters {lang}", targets=targets)

    def listed(text: str, seqs: list[int]) -> None:
        page.fill("#filter", text)
        wait_until(lambda: traffic_list.seqs(page) == seqs, 10, f"{text!r} to list {seqs}",
                   explain=lambda: f"{traffic_list.seqs(page)}; {page.text_content('#showing')}")

    # A response header (asked of the server: summaries carry no headers).
    listed("h:content-type=text/css", [2, 6])
    # Negation, of a header too; a request header; a body; a regular expression.
    listed("-status:200", [3])
    listed("-h:content-type=text/css -status:404", [1, 4, 5])
    listed("h:host=127.0.0.1 re:^/index\\.(css|html)$", [2, 4])
    listed("body:welcome -re:index", [1])
    # A pattern that is not one: the page says why, in its language, and lists nothing.
    page.fill("#filter", "re:(")
    why = {"en": "This filter cannot be used: re:(: not a regular expression",
           "ja": "この絞り込み条件は使えません: re:(: 正規表現ではありません"}[lang]
    wait_until(lambda: why in page.text_content("#showing"), 10, why,
               explain=lambda: page.text_content("#showing"))
    assert page.get_attribute("#filter", "aria-invalid") == "true"
    assert _drawn(page) == []
    listed("", [1, 2, 3, 4, 5, 6])
    # Columns sort: by status (404 last), then the other way round; "#" back to arrival.
    status = page.locator("#traffic-table thead button[data-sort=status]")
    status.click()
    assert page.get_attribute("#traffic-table thead th:has(button[data-sort=status])",
                              "aria-sort") == "ascending"
    wait_until(lambda: traffic_list.seqs(page) == [1, 2, 4, 5, 6, 3], 10, "sorted by status",
               explain=lambda: str(traffic_list.seqs(page)))
    status.click()
    wait_until(lambda: traffic_list.seqs(page) == [3, 1, 2, 4, 5, 6], 10, "404 first",
               explain=lambda: str(traffic_list.seqs(page)))
    page.locator("#traffic-table thead button[data-sort=path]").click()
    wait_until(lambda: traffic_list.seqs(page) == [1, 2, 6, 4, 5, 3], 10, "sorted by path",
               explain=lambda: str(traffic_list.seqs(page)))
    page.locator("#traffic-table thead button[data-sort=seq]").click()
    assert traffic_list.layout(page)[0].startswith("run ")  # dividers again in arrival order
    assert errors == []
