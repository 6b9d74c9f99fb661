"""Issue 14's "Done when", in a real Chromium, in English and in Japanese: a program
sandbox from the "loop" starter, "Check my server" on its page, the stage it reaches;
then its CRLFs broken in the editor (Save and restart), the checks run again, the
failure shown (expected against received, the hint linked to the glossary and the RFC),
and "Show the byte": the traffic page opens the exchange with the caret on the offending
byte in the raw view and in the hex view.

Also: progress shown as checks finish (a check's row appears while the run still runs),
Stop, and the "check N.M" badge on the traffic rows a check sent.
"""

from __future__ import annotations

import base64
import re

import pytest
from testkit import traffic_list
from testkit.program_pages import new_page, reachable_tmp_path, running  # noqa: F401 (tmp_path)
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"locale": "en-US", "heading": "Check my server", "reached": "Stage reached: {r} of {t}",
           "badge": "check {label}", "stopped": "stopped before the end", "hint": "Hint:",
           "tour": "Stage reached: 3 of 4 (as this step expects)",
           "card": "checks: stage 12 reached"},
    "ja": {"locale": "ja-JP", "heading": "サーバーをチェック", "reached": "到達ステージ: {r} / {t}",
           "badge": "チェック {label}", "stopped": "途中で停止しました", "hint": "ヒント:",
           "tour": "到達ステージ: 3 / 4 （このステップの想定どおり）",
           "card": "チェック: ステージ 12 まで到達"},
}
# The loop starter's head lines end in \r\n" (backslash r backslash n in its source):
# made \n", its answers' head lines end in a bare LF.
HEAD_LINE_END = re.compile(r'\\r\\n"\n')
# The stage the loop starter teaches (docs/starters.md, docs/checks.md's table).
LOOP_REACHES = 4

# A server that accepts and never answers: every check waits for its timeout, so a run
# lasts long enough to be stopped.
SILENT = """import os, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(os.environ["PORT"])))
s.listen(64)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
"""

# A row of the traffic list as [seq, its check's label, its badge's text] (nulls for a
# divider or an exchange no check sent).
BADGES = """(r) => [r.dataset.seq ? +r.dataset.seq : null, r.dataset.check || null,
  r.querySelector(".check-tag") ? r.querySelector(".check-tag").textContent : null]"""


def _new_page(browser, site, language):
    return new_page(browser, site, WORDS[language]["locale"])


def _running(page, other_than=None) -> dict:
    return running(page, other_than)


def _check(page, through: int) -> dict:
    """Press "Check my server" for stages 1..through; wait for the run's end (the panel
    shows the stage reached); return the run's JSON as the API gives it."""
    page.wait_for_selector("#checks-run:not([disabled])", timeout=15_000)
    page.select_option("#checks-through", str(through))
    page.click("#checks-run")
    page.wait_for_selector("#checks-stop:not([hidden])", timeout=15_000)  # running
    # Every stage gets at most 15 s (the engine's bound); a run of `through` stages ends.
    page.wait_for_selector("#checks-reached[data-reached]", timeout=(15 * through + 30) * 1000)
    url = page.evaluate("() => PG.api('GET', document.querySelector('#sandbox-card')"
                        ".dataset.sandboxUrl).then((sb) => sb.links.checks)")
    runs = page.evaluate("(url) => PG.api('GET', url)", url)["runs"]
    assert runs[0]["state"] != "running"
    return runs[0]


def _failed_checks(run: dict) -> list[dict]:
    return [check for stage in run["stages"] for check in stage["checks"] if not check["passed"]]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_loop_starter_checked_then_crlf_broken_and_the_caret_on_the_byte(
        browser, program_playground, screenshot_dir, language):
    words = WORDS[language]
    context, page, errors = _new_page(browser, program_playground, language)
    page.check("input[name=kind][value=program]")
    page.click("#starter-list button[data-starter=loop]")
    page.wait_for_url(re.compile(r"/sandboxes/\d+/$"), timeout=30_000)
    sandbox = _running(page)
    assert page.inner_text("#checks-heading") == words["heading"]

    # Checked as it comes: it reaches the stage its step teaches.
    run = _check(page, LOOP_REACHES)
    assert run["reached"] == LOOP_REACHES, _failed_checks(run)
    assert page.inner_text("#checks-reached .reached-number") == words["reached"].format(
        r=LOOP_REACHES, t=LOOP_REACHES)
    assert page.locator(".check-stage[data-state=passed]").count() == LOOP_REACHES

    # Break the CRLFs of its head in the editor: LF only. Save and restart, check again.
    page.wait_for_function("() => document.getElementById('program-text').value.length > 0")
    source = page.input_value("#program-text")
    assert len(HEAD_LINE_END.findall(source)) == 5
    page.fill("#program-text", HEAD_LINE_END.sub('\\\\n"\n', source))
    page.click("#program-save-restart")
    _running(page, other_than=sandbox["pid"])
    run = _check(page, LOOP_REACHES)
    assert run["reached"] == 1, run["stages"]
    assert page.inner_text("#checks-reached .reached-number") == words["reached"].format(
        r=1, t=LOOP_REACHES)
    failed = [c for c in _failed_checks(run) if c["stage"] == 2]
    assert failed, run["stages"]
    outcome = failed[0]
    failure = outcome["failure"]
    assert failure["hint"]["key"] == "bare-lf" and failure["side"] == "response"
    received = base64.b64decode(failure["received_b64"])
    assert b"\n" in received and failure["exchange"] and failure["offset"] is not None

    # The failure on the page: the message, expected against received with CR and LF
    # visible, the hint with its glossary entry and RFC section.
    box = page.locator(f'li.check[data-label="{outcome["label"]}"] .check-failure')
    assert failure["message"] in box.inner_text()
    assert "␊" in box.locator(".received .bytes").inner_text()
    # ... with the byte marked there too (the whole response: it is short).
    assert len(received) < 2048
    assert box.locator(".received .marked-byte").inner_text() == "␊"
    assert box.locator(".received .marked-byte").get_attribute("data-offset") == \
        str(failure["offset"])
    assert "␍␊" in box.locator(".expected .bytes").inner_text()
    hint = box.locator(".check-hint")
    assert hint.inner_text().startswith(words["hint"])
    glossary = hint.locator("a.hint-glossary").get_attribute("href")
    assert glossary.endswith("/glossary/#hint-bare-lf")
    assert hint.locator("a[href^='https://www.rfc-editor.org/rfc/rfc9112#section-']").count() == 1
    panel = page.locator("#checks-panel")
    panel.screenshot(path=str(screenshot_dir / f"checks-failure-{language}.png"))

    # "Show the byte": the traffic page, the exchange open, the caret on the byte.
    with context.expect_page() as opened:
        box.locator("a.show-byte").click()
    traffic = opened.value
    traffic.on("pageerror", lambda exc: errors.append(str(exc)))
    caret = traffic.wait_for_selector("#part-response .bytes .marked-byte", timeout=15_000)
    assert caret.get_attribute("data-offset") == str(failure["offset"])
    assert caret.inner_text() == "␊"  # a bare LF where the head wanted CR LF
    # The byte itself, in the recorded response: an LF with no CR before it.
    raw = traffic.evaluate("(url) => fetch(url).then((r) => r.arrayBuffer())"
                           ".then((b) => Array.from(new Uint8Array(b)))",
                           f"{sandbox['links']['exchanges']}{failure['exchange']}/response.raw")
    assert raw[failure["offset"]] == 0x0A and raw[failure["offset"] - 1] != 0x0D
    assert traffic.inner_text("#detail-title").startswith(f"#{failure['exchange']} ")
    assert not traffic.is_hidden("#detail-mark")
    # Said right above the bytes too, where the page scrolled to.
    said = traffic.inner_text("#part-response .part-size")
    assert "▲" in said and f" {failure['offset']}" in said and outcome["label"] in said
    assert traffic.is_visible("#part-response .bytes .marked-byte")
    traffic.screenshot(path=str(screenshot_dir / f"checks-caret-{language}.png"))
    traffic.click("#detail button.tab[data-view=hex]")
    marks = traffic.locator("#part-response .bytes.view-hex .marked-byte")
    assert marks.all_inner_texts() == ["0a", "."]
    traffic.locator("#part-response").screenshot(
        path=str(screenshot_dir / f"checks-hex-{language}.png"))
    # The glossary entry the hint links to.
    traffic.goto(program_playground.base + glossary)
    entry = traffic.locator("#hint-bare-lf")
    assert entry.is_visible() and "\\r\\n" in entry.inner_text()
    traffic.screenshot(path=str(screenshot_dir / f"glossary-{language}.png"))
    assert errors == []
    context.close()


# Records, at each change of the panel, how many checks it shows and whether the run is
# still running (Stop shown): the progress as the learner saw it.
WATCH_PANEL = """() => {
  window.seen = [];
  const panel = document.getElementById("checks-panel");
  const note = () => window.seen.push([panel.querySelectorAll("li.check:not(.planned)").length,
                                       !document.getElementById("checks-stop").hidden]);
  new MutationObserver(note).observe(panel, {subtree: true, childList: true, attributes: true});
}"""


@pytest.mark.parametrize("language", ["en", "ja"])
def test_progress_shows_as_checks_finish_and_the_rows_carry_their_check(
        browser, shared_playground, start_in_page, screenshot_dir, language):
    words = WORDS[language]
    context, page, errors = _new_page(browser, shared_playground, language)
    sandbox = start_in_page(page, "checked", page.input_value("#create-port"))
    page.goto(shared_playground.base + sandbox["links"]["page"])
    page.wait_for_selector("#sandbox-card .card[data-status=running]")
    page.wait_for_selector("#checks-stages li.check-stage")
    page.locator("#checks-panel").screenshot(
        path=str(screenshot_dir / f"checks-before-{language}.png"))
    page.evaluate(WATCH_PANEL)
    run = _check(page, 12)
    assert run["reached"] == 12, _failed_checks(run)  # henaserver in full mode
    total = sum(len(stage["checks"]) for stage in run["stages"])
    seen = page.evaluate("window.seen")
    # Checks appeared one after another while the run was still running: live.
    while_running = [count for count, running in seen if running]
    assert any(0 < count < total for count in while_running), seen
    assert while_running == sorted(while_running)
    assert seen[-1] == [total, False]
    assert page.locator(".check-stage[data-state=passed]").count() == 12
    # The sandbox's card (cards.js, here as on the home page) says how far its checks got.
    page.wait_for_function("(text) => document.querySelector('#sandbox-card .facts')"
                           ".textContent.includes(text)", arg=words["card"])

    # The traffic page: every exchange a check sent carries the label of the check that
    # opened its connection (stages 1-3 judge one exchange together: all of them list it).
    sent: dict[int, set[str]] = {}
    for stage in run["stages"]:
        for check in stage["checks"]:
            for seq in check["exchanges"]:
                sent.setdefault(seq, set()).add(check["label"])
    assert len(sent) > 12
    traffic = context.new_page()
    traffic.on("pageerror", lambda exc: errors.append(str(exc)))
    traffic.goto(shared_playground.base + sandbox["links"]["traffic"])
    last = max(sent)
    traffic.wait_for_selector(f"#traffic-table tr[data-seq='{last}']", timeout=15_000)
    # The list draws only the rows on screen: it is read by scrolling it (traffic_list).
    listed = {seq: (label, badge) for seq, label, badge in traffic_list.read(traffic, BADGES)
              if seq is not None}
    for seq, labels in sent.items():
        label, badge = listed[seq]
        assert label in labels, (seq, labels)
        assert badge == words["badge"].format(label=label)
    assert sum(label is not None for label, _ in listed.values()) == len(sent)
    traffic.screenshot(path=str(screenshot_dir / f"checks-badges-{language}.png"))
    # The filter box finds a stage's exchanges: check:12 (filters.js, filters.json).
    traffic.fill("#filter", "check:12")
    stage12 = sorted(seq for seq, labels in sent.items()
                     if any(label.startswith("12.") for label in labels))
    wait_until(lambda: len([r for r in traffic_list.read(traffic, BADGES) if r[0]])
               == len(stage12), 10, "the rows of stage 12")
    shown = [(seq, label) for seq, label, _ in traffic_list.read(traffic, BADGES) if seq]
    assert [seq for seq, _ in shown] == stage12 and all(c.startswith("12.") for _, c in shown)
    # A link to an exchange no longer stored says so; one that makes no sense is ignored.
    traffic.goto(shared_playground.base + sandbox["links"]["traffic"]
                 + "?exchange=999999&mark=response:3&check=2.1")
    traffic.wait_for_selector("#messages .notice.error")
    assert "#999999" in traffic.inner_text("#messages") and traffic.is_hidden("#detail")
    traffic.goto(shared_playground.base + sandbox["links"]["traffic"]
                 + "?exchange=x&mark=side:-1")
    traffic.wait_for_selector("#conn-state[data-state=live]")
    assert traffic.is_hidden("#detail") and traffic.inner_text("#messages") == ""
    assert errors == []
    context.close()


def test_stop_ends_a_run_that_would_take_long(browser, program_playground):
    """A server that accepts and never answers: each check waits for its timeout. Stop
    ends the run at once (within one check); the panel says so and can start again."""
    words = WORDS["en"]
    context, page, errors = _new_page(browser, program_playground, "en")
    page.check("input[name=kind][value=program]")
    page.click("#starter-list button[data-starter='']")
    page.wait_for_url(re.compile(r"/sandboxes/\d+/$"), timeout=30_000)
    page.wait_for_function("() => document.getElementById('program-text').value.length > 0")
    page.fill("#program-text", SILENT)
    page.click("#program-save-restart")
    _running(page)
    page.wait_for_selector("#checks-run:not([disabled])", timeout=15_000)
    page.click("#checks-run")
    page.wait_for_selector("#checks-stop:not([hidden])", timeout=15_000)
    assert page.is_disabled("#checks-run")
    page.click("#checks-stop")
    # Ends: Stop goes, the panel says how it ended, and a new run may start.
    page.wait_for_selector("#checks-reached[data-reached]", timeout=30_000)
    assert page.is_hidden("#checks-stop") and page.is_enabled("#checks-run")
    assert words["stopped"] in page.inner_text("#checks-state")
    url = page.evaluate("() => PG.api('GET', document.querySelector('#sandbox-card')"
                        ".dataset.sandboxUrl).then((sb) => sb.links.checks)")
    run = page.evaluate("(url) => PG.api('GET', url)", url)["runs"][0]
    assert run["state"] == "stopped" and run["reached"] == 0
    checked = sum(len(stage["checks"]) for stage in run["stages"])
    assert checked < sum(stage["total"] for stage in run["stages"])
    assert page.locator(".check-stage[data-state=skipped]").count() >= 11
    # A stopped sandbox cannot be checked: the button waits, and the panel says why.
    page.click("#sandbox-card button[data-action=stop]")
    page.wait_for_selector("#sandbox-card .card[data-status=stopped]", timeout=15_000)
    page.wait_for_selector("#checks-run[disabled]")
    assert "Start the sandbox" in page.inner_text("#checks-state")
    assert errors == []
    context.close()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_tour_offers_the_checks_of_its_step(browser, shared_playground, screenshot_dir,
                                                language):
    """The "answer once" step: checks of stages 1-4 on the tour sandbox reach stage 3,
    as the step says (its mode's row of docs/checks.md)."""
    context, page, errors = _new_page(browser, shared_playground, language)
    page.goto(shared_playground.base + "/tour/")
    step = page.locator("#step-one-request-then-exit")
    step.locator("button.setup").click()
    step.locator(".step-result:not([hidden])").wait_for(timeout=30_000)
    checks = step.locator(".tour-checks")
    assert checks.is_visible() and checks.get_attribute("data-reach") == "3"
    checks.locator("button.check-stages").click()
    page.wait_for_selector("#step-one-request-then-exit .tour-checks[data-reached]",
                           timeout=(15 * 4 + 30) * 1000)
    assert checks.get_attribute("data-reached") == "3"
    assert WORDS[language]["tour"] in checks.inner_text()
    details = checks.locator("a.checks-details").get_attribute("href")
    assert re.fullmatch(r"/sandboxes/\d+/#checks-panel", details)
    step.screenshot(path=str(screenshot_dir / f"checks-tour-{language}.png"))
    assert errors == []
    context.close()
