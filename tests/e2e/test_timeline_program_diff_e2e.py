"""Comparing a learner's own server with henaserver (issue 16, point 3, "their own
server against henaserver"), in a real Chromium, in English and Japanese: the "static"
starter under bubblewrap behind the capture relay, and a henaserver sandbox with the
same starter site, each asked for /index.css; the comparison page shows the same body
and marks where the heads differ."""

import pytest
from testkit.language import in_language
from testkit.program_pages import reachable_tmp_path  # noqa: F401 (the tmp_path fixture)
from testkit.sandbox_pages import exchange, last_stored_seq
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

SAME_BYTES = {"en": "the same bytes", "ja": "同じバイト列"}

CREATE = """async ([body]) => {
  const sb = await PG.api("POST", "/api/sandboxes/", body);
  if (body.kind !== "program") await PG.api("POST", sb.links.starter, {});
  return await PG.api("POST", sb.links.start);
}"""


@pytest.fixture
def two_port_playground(playground_factory, isolation, monkeypatch, free_ports):
    """A playground whose port range holds two free ports the OS chose (as
    program_playground does for one): (the playground, its two ports)."""
    low, high = sorted(free_ports(2))
    monkeypatch.setenv("PLAYGROUND_PORT_RANGE", f"{low}-{high}")
    return playground_factory(), low, high


CSS = b"GET /index.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_my_server_against_henaserver(browser, two_port_playground, lang):
    site, mine_port, hena_port = two_port_playground
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    in_language(page, site.base, lang)
    mine = page.evaluate(CREATE, [{"name": "mine", "port": mine_port, "kind": "program",
                                   "starter": "static"}])
    hena = page.evaluate(CREATE, [{"name": "hena", "port": hena_port}])

    def running() -> bool:
        return page.evaluate("(u) => PG.api('GET', u)", mine["links"]["self"])["status"] \
            == "running"
    wait_until(running, 30, "the program to run", explain=site.output)
    mine_answer, hena_answer = exchange(mine_port, CSS), exchange(hena_port, CSS)
    assert mine_answer.startswith(b"HTTP/1.1 200") and hena_answer.startswith(b"HTTP/1.1 200")

    a, b = last_stored_seq(page, mine), last_stored_seq(page, hena)

    page.goto(site.base + f"/compare/?a={mine['id']}:{a}&b={hena['id']}:{b}")
    page.locator("#compare-result:not([hidden])").wait_for(timeout=10_000)
    which = page.locator(".compare-which")
    assert "mine" in which.nth(0).inner_text() and "hena" in which.nth(1).inner_text()
    body = page.locator("#compare-response .compare-part[data-part=body]")
    assert body.get_attribute("data-same") == "true"
    assert body.locator(".compare-part-verdict").inner_text() == SAME_BYTES[lang]
    head = page.locator("#compare-response .compare-part[data-part=head]")
    assert head.get_attribute("data-same") == "false"
    # Where the heads differ is marked on both sides, on the recorded bytes.
    assert head.locator(".compare-col").nth(1).locator(".diff-byte").count() > 0
    left = head.locator("pre").nth(0).inner_text()
    assert left.startswith("HTTP/1.1 200") and "␍␊" in left
    assert errors == []
    context.close()
