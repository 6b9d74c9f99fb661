"""Runs on the traffic page, in a real Chromium against a real playground (daphne via
runserver) and real henaserver sandboxes (issue 11, points 1 and 3, the page):

* no false "went by too fast": after a restart, and under tour step 4's single request;
* run boundaries in the list, and a restart keeps the earlier exchanges on the page;
* ``run:N`` in the filter box and the "This run" / "All runs" quick choice;
* exports of this run, a chosen run or everything retained hold exactly those;
* one sentence whose numbers add up, after a burst and after a restart, in English and
  in Japanese (with screenshots of both).
"""

import json
import re
import urllib.request
from pathlib import Path

import pytest
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

TOO_FAST = re.compile(r"too fast|速すぎ")
REPO = Path(__file__).resolve().parents[2]
FILTERS = json.loads((REPO / "tests" / "data" / "filters.json").read_text("utf-8"))

# filters.js imported into a page (any page with a module script: it sits next to it).
FILTERS_IN_PAGE = """async ([items, cases]) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const { parseFilter, matches } = await import(new URL("filters.js", screen).href);
  return cases.map((c) => Object.fromEntries(Object.entries(items).map(
    ([name, item]) => [name, matches(item, parseFilter(c.text))])));
}"""


def _get(port: int, path: str = "/") -> int:
    """One GET to the sandbox on a connection of its own; the status."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        response.read()
        return response.status


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


def _rows(page) -> list[int]:
    """The seqs of the exchange rows in the list, top to bottom (dividers left out)."""
    return [int(s) for s in page.eval_on_selector_all(
        "#traffic-table tbody tr[data-seq]", "rows => rows.map(r => r.dataset.seq)")]


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
    assert _rows(page) == list(range(1, 13))
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
        wait_until(lambda: len(_stored(page, step["sandbox"])) >= 9, 10, "9 stored exchanges")
    step = _call(page, "POST", "/api/tour/steps/one-request-then-exit/setup/", {})
    sandbox = step["sandbox"]

    _traffic(page, sandbox)
    before = len(_rows(page))
    assert _get(sandbox["port"]) == 200  # the once mode's one request
    wait_until(lambda: len(_rows(page)) == before + 1, 10, "the single request's row")
    assert not TOO_FAST.search(page.inner_text("main"))
    assert errors == []
    context.close()


def test_filters_js_follows_every_case_of_the_shared_table(sandbox_in_new_session):
    # On the traffic page: outcome names (status:rejected) come from its data block.
    page, sandbox, errors = sandbox_in_new_session("filter table")
    _traffic(page, sandbox)
    got = page.evaluate(FILTERS_IN_PAGE, [FILTERS["items"], FILTERS["cases"]])
    for case, result in zip(FILTERS["cases"], got, strict=True):
        assert result == case["passes"], case["text"]
    assert errors == []
