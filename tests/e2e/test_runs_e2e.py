"""Runs on the traffic page, in a real Chromium against a real playground (daphne via
runserver) and real henaserver sandboxes (issue 11, points 1 and 3, the page):

* no false "went by too fast": after a restart, and under tour step 4's single request;
* run boundaries in the list, and a restart keeps the earlier exchanges on the page;
* ``run:N`` in the filter box and the "This run" / "All runs" quick choice;
* exports of this run, a chosen run or everything retained hold exactly those;
* one sentence whose numbers add up, after a burst and after a restart, in English and
  in Japanese (with screenshots of both).
"""

import http.client
import json
import os
import re
import signal
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from testkit import filter_table, traffic_list
from testkit.language import in_language
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

TOO_FAST = re.compile(r"too fast|速すぎ")
REPO = Path(__file__).resolve().parents[2]
def _get(port: int, path: str = "/") -> int:
    """One GET to the sandbox on a connection of its own; the status."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        response.read()
        return response.status


def _get_any(port: int, path: str) -> None:
    """One GET whatever its status (a 404 is an exchange like any other)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
    finally:
        conn.close()


def _call(page, method: str, url: str, data=None):
    """The page's own API client (what its buttons use)."""
    return page.evaluate("([m, u, d]) => PG.api(m, u, d)", [method, url, data])


def _stored(page, sandbox) -> list[dict]:
    """Every stored exchange summary of the sandbox, through the list API (all runs)."""
    return page.evaluate("""async (url) => {
      let after = 0, items = [];
      for (;;) {
        const r = await (await fetch(url + "?run=all&after=" + after)).json();
        items.push(...r.exchanges);
        if (!r.more) return items;
        after = r.next_after;
      }
    }""", sandbox["links"]["exchanges"])


def _traffic(page, sandbox):
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2]
              + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    return page


def _burst(port: int, total: int, connections: int = 10) -> None:
    """``total`` GETs over ``connections`` keep-alive connections at once (ab -k -c)."""
    def one_connection(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            for _ in range(count):
                conn.request("GET", "/")
                conn.getresponse().read()
        finally:
            conn.close()

    shares = [total // connections + (i < total % connections) for i in range(connections)]
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(one_connection, shares))


def _wait_layout(page, wanted: list[str]) -> None:
    wait_until(lambda: traffic_list.layout(page) == wanted, 10, f"the list to be {wanted}",
               explain=lambda: f"the list is {traffic_list.layout(page)}")


def _export(page, kind: str) -> str:
    """The text of the file the export link (HAR or raw) downloads right now."""
    return page.evaluate("""async (id) => {
      const r = await fetch(document.getElementById(id).href);
      return await r.text();
    }""", "export-har" if kind == "har" else "export-raw")


def _entries(page, kind: str) -> list[str]:
    """The request targets in the exported file, in order."""
    text = _export(page, kind)
    if kind == "har":
        return [e["request"]["url"].split("/", 3)[3] for e in json.loads(text)["log"]["entries"]]
    return re.findall(r"^=== #\d+ GET /(\S*) request", text, re.M)


def _show_all(page, count: int) -> None:
    """Wait until the list holds ``count`` rows. A burst's batches push their newest rows
    only; once it has been quiet for a second the page reads the others from the history
    by itself (the "Show them" button does it at once during a long flood)."""
    wait_until(lambda: traffic_list.held(page) == count, 15, f"{count} rows held",
               explain=lambda: f"{traffic_list.held(page)} rows; {page.text_content('#older')!r}")
    assert "not drawn" not in page.text_content("#older")


def test_no_false_went_by_too_fast_after_a_restart(sandbox_in_new_session):
    """Sandbox with 11 exchanges -> Restart -> open Live traffic -> one request: the page
    used to say "11 exchanges went by too fast to show"."""
    page, sandbox, errors = sandbox_in_new_session("restart demo")
    for _ in range(11):
        assert _get(sandbox["port"]) == 200
    wait_until(lambda: len(_stored(page, sandbox)) == 11, 10, "11 stored exchanges")
    restarted = _call(page, "POST", sandbox["links"]["restart"])
    assert restarted["status"] == "running"

    _traffic(page, sandbox)
    assert _get(restarted["port"]) == 200
    page.locator("#traffic-table tbody tr[data-seq='12']").wait_for(timeout=10_000)
    assert not TOO_FAST.search(page.inner_text("main"))
    # The earlier run's exchanges are still there, under their own run's divider.
    assert traffic_list.seqs(page) == list(range(1, 13))
    assert errors == []


def test_tour_step_4_shows_no_went_by_too_fast(browser, shared_playground):
    """Tour step 4 ("one request, then exit") used to show "18 went by too fast" under
    its single request: the earlier steps' exchanges, deleted by the step's restart."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(shared_playground.base + "/tour/")
    for slug in ("replay-with-the-composer", "loop"):  # earlier steps, with traffic
        step = _call(page, "POST", f"/api/tour/steps/{slug}/setup/", {})
        for _ in range(9):
            assert _get(step["sandbox"]["port"]) == 200
        wait_until(lambda s=step["sandbox"]: len(_stored(page, s)) >= 9, 10, "9 stored exchanges")
    step = _call(page, "POST", "/api/tour/steps/one-request-then-exit/setup/", {})
    sandbox = step["sandbox"]

    _traffic(page, sandbox)
    before = len(_stored(page, sandbox))
    wait_until(lambda: len(traffic_list.seqs(page)) == before, 10, "the history in the list")
    assert _get(sandbox["port"]) == 200  # the once mode's one request
    wait_until(lambda: len(traffic_list.seqs(page)) == before + 1, 10, "the single request's row")
    assert not TOO_FAST.search(page.inner_text("main"))
    assert errors == []
    context.close()


def test_filters_js_follows_every_case_of_the_shared_table(sandbox_in_new_session):
    # On the traffic page: outcome names (status:rejected) come from its data block.
    page, sandbox, errors = sandbox_in_new_session("filter table")
    _traffic(page, sandbox)
    filter_table.check_in_page(page)
    assert errors == []


def test_runs_on_the_page_divide_filter_and_export(sandbox_in_new_session):
    """Points 1-3: a restart keeps the earlier run's exchanges on the page, under a divider
    per run with the current run marked; run:N and the quick choice filter by run; the
    exports hold exactly this run, a chosen run or everything retained."""
    page, sandbox, errors = sandbox_in_new_session("runs demo")
    _traffic(page, sandbox)
    for path in ("/", "/index.css", "/one"):
        _get_any(sandbox["port"], path)
    _wait_layout(page, ["run 1*", "1", "2", "3"])

    restarted = _call(page, "POST", sandbox["links"]["restart"])
    assert restarted["status"] == "running"
    # The page did not empty: run 1's rows stay, and run 2 begins below them at once.
    _wait_layout(page, ["run 1", "1", "2", "3", "run 2*"])
    first = page.locator("#traffic-table tr.run-divider[data-run='1']").inner_text()
    assert first.startswith("Run 1 · Full server (default) · started ")
    assert " · ended " in first and "3 requests" in first
    current = page.locator("#traffic-table tr.run-divider.current").inner_text()
    assert current.startswith("Run 2 · ") and "this run" in current
    for path in ("/two", "/index.css"):
        _get_any(restarted["port"], path)
    _wait_layout(page, ["run 1", "1", "2", "3", "run 2*", "4", "5"])

    # The filter box: run:N, alone and with the rest of the grammar.
    page.fill("#filter", "run:1")
    _wait_layout(page, ["run 1", "1", "2", "3"])
    page.fill("#filter", "run:2 .css")
    _wait_layout(page, ["run 2*", "5"])
    page.fill("#filter", "")
    # The quick choice next to it.
    page.click("#run-scope button[data-scope=current]")
    _wait_layout(page, ["run 2*", "4", "5"])
    assert page.get_attribute("#run-scope button[data-scope=current]", "aria-pressed") == "true"
    page.click("#run-scope button[data-scope=all]")
    _wait_layout(page, ["run 1", "1", "2", "3", "run 2*", "4", "5"])

    # Exports: this run (the default), a chosen run, everything retained.
    assert page.input_value("#export-run") == "current"
    assert _entries(page, "har") == ["two", "index.css"]
    assert _entries(page, "raw") == ["two", "index.css"]
    page.select_option("#export-run", "1")
    assert _entries(page, "har") == ["", "index.css", "one"]
    assert _entries(page, "raw") == ["", "index.css", "one"]
    page.select_option("#export-run", "all")
    assert _entries(page, "har") == ["", "index.css", "one", "two", "index.css"]
    page.fill("#filter", ".css")  # the filter applies on top of the choice of runs
    assert _entries(page, "raw") == ["index.css", "index.css"]
    page.fill("#filter", "")

    # A fresh page shows the same history, from the database.
    page.reload()
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    _wait_layout(page, ["run 1", "1", "2", "3", "run 2*", "4", "5"])
    assert errors == []


SENTENCE = {
    "en": {"run": "{served} request{s} served in this run: {stored} stored, {removed} older ones "
                  "removed to stay within the limits ({limit} exchanges or 50 MB per sandbox, "
                  "10,000 exchanges or 200 MB for all your sandboxes), {lost} not recorded.",
           "all": "{served} request{s} served in all runs: {stored} stored, {removed} older ones "
                  "removed to stay within the limits ({limit} exchanges or 50 MB per sandbox, "
                  "10,000 exchanges or 200 MB for all your sandboxes), {lost} not recorded."},
    "ja": {"run": "今回の起動で応答したリクエスト {served} 件の内訳: 保存済み {stored} 件、"
                  "保存の上限（サンドボックスごとに {limit} 件または 50 MB、"
                  "あなたのサンドボックス全体で 10,000 件または 200 MB）"
                  "を超えないよう古い順に削除 {removed} 件、記録できなかったもの {lost} 件。",
           "all": "これまでのすべての起動で応答したリクエスト {served} 件の内訳: "
                  "保存済み {stored} 件、"
                  "保存の上限（サンドボックスごとに {limit} 件または 50 MB、"
                  "あなたのサンドボックス全体で 10,000 件または 200 MB）"
                  "を超えないよう古い順に削除 {removed} 件、記録できなかったもの {lost} 件。"},
}


def _sentence(lang: str, scope: str, limit: int, served: int, stored: int, removed: int = 0,
              lost: int = 0) -> str:
    assert served == stored + removed + lost  # what the page must show adds up
    return SENTENCE[lang][scope].format(
        served=f"{served:,}", stored=f"{stored:,}", removed=f"{removed:,}", lost=f"{lost:,}",
        limit=f"{limit:,}", s="" if served == 1 else "s")


def _wait_text(page, selector: str, wanted: str, timeout: float = 15) -> None:
    def shown() -> bool:
        return page.locator(selector).text_content() == wanted
    wait_until(shown, timeout, f"{selector} to say {wanted!r}",
               explain=lambda: f"it says {page.locator(selector).text_content()!r}")


@pytest.mark.screenshots
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_sentence_adds_up_after_a_burst_and_a_restart(sandbox_in_new_session,
                                                          shared_playground, screenshot_dir,
                                                          lang):
    """Point 4: one sentence for this run and one for all runs, whose numbers add up, in
    place of the four figures that did not ("showing the latest 1,000 of 2,000", "583
    went by too fast", "keeps the latest 1,449", "2,000 requests")."""
    page, sandbox, errors = sandbox_in_new_session(f"burst {lang}")
    in_language(page, shared_playground.base, lang)
    _traffic(page, sandbox)
    limit = json.loads(page.text_content("#runs-data"))["retention"]["exchanges"]
    _burst(sandbox["port"], 300)
    _wait_text(page, "#counts-run", _sentence(lang, "run", limit, 300, 300))
    assert page.locator("#counts-all").is_hidden()  # one run: the same sentence once
    assert page.text_content("#c-requests") == "300"
    # A burst's batches push their newest rows; the page says how many it did not draw
    # and shows them all on request, from the history.
    _show_all(page, 300)

    restarted = _call(page, "POST", sandbox["links"]["restart"])
    _burst(restarted["port"], 7, connections=2)
    _wait_text(page, "#counts-run", _sentence(lang, "run", limit, 7, 7))
    _wait_text(page, "#counts-all", _sentence(lang, "all", limit, 307, 307))
    assert page.text_content("#c-requests") == "7"
    _show_all(page, 307)
    body = page.inner_text("main")
    for gone in ("showing the latest", "went by too fast", "keeps the latest", "最新"):
        assert gone not in body
    page.locator("#table-wrap").evaluate("el => { el.scrollTop = el.scrollHeight - 420; }")
    page.screenshot(path=str(screenshot_dir / f"traffic-runs{'' if lang == 'en' else '-ja'}.png"),
                    full_page=True)
    assert errors == []


@pytest.mark.screenshots
def test_older_exchanges_removed_by_retention_are_counted(browser, playground_factory,
                                                          start_in_page, monkeypatch,
                                                          free_port, screenshot_dir):
    """Point 4 with eviction: a retention limit of 40 exchanges, 100 requests, then a
    restart and 5 more: the sentences say how many older ones were removed, and the
    numbers still add up; the list holds what is stored."""
    monkeypatch.setenv("PLAYGROUND_RETENTION_EXCHANGES", "40")
    # A port of its own: the shared playground's sandboxes hold ports of 8000-8999 that
    # this playground does not know of.
    monkeypatch.setenv("PLAYGROUND_PORT_RANGE", f"{free_port}-{free_port}")
    site = playground_factory()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.base + "/")
    sandbox = start_in_page(page, "small", page.input_value("#create-port"))
    _traffic(page, sandbox)
    _burst(sandbox["port"], 100)
    _wait_text(page, "#counts-run", _sentence("en", "run", 40, 100, 40, removed=60))
    restarted = _call(page, "POST", sandbox["links"]["restart"])
    _burst(restarted["port"], 5, connections=1)
    _wait_text(page, "#counts-run", _sentence("en", "run", 40, 5, 5))
    _wait_text(page, "#counts-all", _sentence("en", "all", 40, 105, 40, removed=65))
    traffic_list.to_top(page)
    divider = page.locator("#traffic-table tr.run-divider[data-run='1']")
    wait_until(lambda: "100 requests · 65 removed to stay within the limit"
               in divider.inner_text(), 10, "run 1's divider to count its removals",
               explain=divider.inner_text)
    # A fresh page holds exactly what is stored: run 1's newest 35 and run 2's 5.
    page.reload()
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    wait_until(lambda: traffic_list.seqs(page) == list(range(66, 106)), 10, "the 40 stored rows")

    # A third run of 40 removes every exchange of the first two: their dividers stay and
    # say so (nothing vanishes without the page saying it).
    third = _call(page, "POST", sandbox["links"]["restart"])
    _burst(third["port"], 40, connections=4)
    _wait_text(page, "#counts-all", _sentence("en", "all", 40, 145, 40, removed=105))
    _wait_layout(page, ["run 1", "run 2", "run 3*", *map(str, range(106, 146))])
    traffic_list.to_top(page)

    def said(number: int, text: str) -> bool:
        return text in page.locator(f"#traffic-table tr.run-divider[data-run='{number}']") \
            .inner_text()
    wait_until(lambda: said(1, "100 requests · 100 removed to stay within the limit")
               and said(2, "5 requests · 5 removed to stay within the limit"), 10,
               "the dividers of runs 1 and 2 to say all was removed",
               explain=lambda: str(page.locator("tr.run-divider").all_inner_texts()))
    page.reload()
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    _wait_layout(page, ["run 1", "run 2", "run 3*", *map(str, range(106, 146))])

    # Two more runs of 40: runs 1-4 have nothing left, and share one divider.
    for _ in range(2):
        again = _call(page, "POST", sandbox["links"]["restart"])
        _burst(again["port"], 40, connections=4)
    _wait_text(page, "#counts-all", _sentence("en", "all", 40, 225, 40, removed=185))
    _wait_layout(page, ["runs 1-4", "run 5*", *map(str, range(186, 226))])
    traffic_list.to_top(page)
    assert page.locator("#traffic-table tr.runs-range").inner_text() == (
        "Runs 1–4 · 185 requests · 185 removed to stay within the limit")
    page.locator("#traffic").screenshot(path=str(screenshot_dir / "traffic-runs-removed-head.png"))
    page.locator("#table-wrap").screenshot(path=str(screenshot_dir / "traffic-runs-removed.png"))
    assert errors == []
    context.close()


# The page's own module and the page's own data (#runs-data: the retention limits and the
# words of each reason code, as the server rendered them in the page's language).
REASONS_IN_PAGE = """async (counts) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const { reasonsSentence, runSentence } = await import(new URL("counts.js", screen).href);
  const data = JSON.parse(document.getElementById("runs-data").textContent);
  return [runSentence(counts, data.retention), reasonsSentence(counts, data.reasons)];
}"""


@pytest.mark.screenshots
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_not_recorded_says_why_per_reason(sandbox_in_new_session, shared_playground, lang,
                                          screenshot_dir):
    """The words for every reason code of the runs contract (docs/api.md), in both
    languages, from one source (runs.REASONS, sent by the server): each a clause that
    fits "N because <reason>" (Japanese "<reason>ため N 件"), database_error included."""
    page, sandbox, errors = sandbox_in_new_session(f"reasons {lang}")
    in_language(page, shared_playground.base, lang)
    _traffic(page, sandbox)
    limit = json.loads(page.text_content("#runs-data"))["retention"]["exchanges"]
    counts = {"served": 1, "stored": 0, "removed": 0, "not_recorded": 1,
              "not_recorded_reasons": {"disk_full": 1}}
    sentence, why = page.evaluate(REASONS_IN_PAGE, counts)
    assert sentence == _sentence(lang, "run", limit, 1, 0, lost=1)
    counts = {"served": 2_500, "stored": 2_000, "removed": 0, "not_recorded": 500,
              "not_recorded_reasons": {"capture_queue_full": 470, "disk_full": 15,
                                       "database_error": 3, "playground_ended": 5,
                                       "earlier_version": 7}}
    sentence, why = page.evaluate(REASONS_IN_PAGE, counts)
    assert sentence == _sentence(lang, "run", limit, 2_500, 2_000, lost=500)
    assert why == {
        "en": "Not recorded: 470 because the server's capture queue was full; 15 because the "
              "database's disk was full; 3 because the database refused to store them; 5 "
              "because the playground process that ran the server ended; 7 because an "
              "earlier version of the playground did not keep them.",
        "ja": "記録できなかった理由: サーバーの記録用キューがいっぱいだったため 470 件、"
              "データベースのディスクがいっぱいだったため 15 件、"
              "データベースが保存を拒んだため 3 件、"
              "サーバーを動かしていたプレイグラウンドのプロセスが終了したため 5 件、"
              "以前のバージョンのプレイグラウンドが残さなかったため 7 件。",
    }[lang]
    # What a person sees: the page's own showSentences drawing these counts in #counts.
    page.evaluate("""async (counts) => {
      const screen = document.querySelector("script[type=module][src]").src;
      const { showSentences } = await import(new URL("counts.js", screen).href);
      const data = JSON.parse(document.getElementById("runs-data").textContent);
      showSentences({run: counts, all: counts}, data.retention, data.reasons);
    }""", counts)
    assert page.text_content("#counts-run") == f"{sentence} {why}"
    page.locator("#counts").screenshot(path=str(screenshot_dir / f"counts-reasons-{lang}.png"))
    assert errors == []


def test_a_2000_request_burst_adds_up_and_exports_whole(sandbox_in_new_session):
    """The issue's burst (ab -n 2000 -c 10 -k): the sentence says 2,000 served and 2,000
    stored, the list holds all 2,000 (issue 16: it scrolls virtually; it used to show the
    newest 1,000), and this run's HAR holds all 2,000 (it used to hold 1,449, silently)."""
    page, sandbox, errors = sandbox_in_new_session("burst 2000")
    _traffic(page, sandbox)
    limit = json.loads(page.text_content("#runs-data"))["retention"]["exchanges"]
    assert limit >= 2000
    _burst(sandbox["port"], 2000)
    _wait_text(page, "#counts-run", _sentence("en", "run", limit, 2000, 2000), timeout=60)
    assert page.text_content("#c-requests") == "2,000"
    _show_all(page, 2000)
    assert "newest" not in page.text_content("#older")
    entries = json.loads(_export(page, "har"))["log"]["entries"]
    assert len(entries) == 2000
    assert errors == []


def test_a_crash_ends_the_run_and_the_sentence_still_adds_up(sandbox_in_new_session):
    """kill -9 of the sandbox's server: its run's divider says how it ended, and the
    counts are those of what was recorded, still adding up."""
    page, sandbox, errors = sandbox_in_new_session("crash")
    _traffic(page, sandbox)
    limit = json.loads(page.text_content("#runs-data"))["retention"]["exchanges"]
    _burst(sandbox["port"], 50, connections=5)
    _wait_text(page, "#counts-run", _sentence("en", "run", limit, 50, 50))
    os.kill(sandbox["pid"], signal.SIGKILL)
    traffic_list.to_top(page)
    divider = page.locator("#traffic-table tr.run-divider[data-run='1']")
    wait_until(lambda: "the server stopped unexpectedly" in divider.inner_text(), 15,
               "run 1's divider to say it crashed", explain=divider.inner_text)
    assert " · ended " in divider.inner_text() and "50 requests" in divider.inner_text()
    # Stopped: "this run" is still the latest run, and its sentence stands.
    _wait_text(page, "#counts-run", _sentence("en", "run", limit, 50, 50))
    assert "this run" in divider.inner_text()
    _show_all(page, 50)
    assert errors == []
