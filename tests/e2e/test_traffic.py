"""Live traffic in a real Chromium against a real playground (daphne via runserver) and a
real sandbox: open the traffic page, open the sandbox in another tab, and see `GET /`
and `GET /index.css` arrive with the exact request line and headers the browser sent."""

import pytest

pytestmark = pytest.mark.browser

RAW = """async (url) => {
  const r = await fetch(url, {credentials: "same-origin"});
  const bytes = new Uint8Array(await r.arrayBuffer());
  const text = Array.from(bytes, (b) => String.fromCharCode(b)).join("");
  return {type: r.headers.get("Content-Type"), text};
}"""


@pytest.mark.screenshots
def test_the_traffic_page_shows_what_the_browser_sent(sandbox_in_new_session, shared_playground,
                                                      screenshot_dir):
    page, sandbox, errors = sandbox_in_new_session("traffic demo")
    site = shared_playground
    context = page.context
    assert sandbox["status"] == "running"

    # From the card, a learner finds the traffic page next to "Open".
    page.goto(site.base + "/")
    page.get_by_role("link", name="Live traffic").click()
    page.wait_for_url(f"**/sandboxes/{sandbox['id']}/traffic/")
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)

    sent = {}  # what Chromium says it put on the wire, per path
    prefix = f"http://localhost:{sandbox['port']}"  # the "Open" link's host
    context.on("request", lambda r: r.url.startswith(prefix)
               and sent.setdefault(r.url[len(prefix):], r))
    with context.expect_page() as opened:
        page.get_by_role("link", name="Open ↗").click()
    tab = opened.value
    tab.wait_for_load_state("load")
    assert tab.locator("h1").inner_text() == "Welcome to HenaServer!"
    page.bring_to_front()

    rows = page.locator("#traffic-table tbody tr[data-seq]")  # not the run dividers
    for path in ("/", "/index.css"):
        rows.filter(has=page.locator("td.path", has_text=path)).first.wait_for(timeout=10_000)
    seen = {r.locator("td.path").inner_text(): r for r in rows.all()}
    assert seen["/"].locator("td.method").inner_text() == "GET"
    assert seen["/"].locator("td.status .code").inner_text() == "200"
    # Both went over one keep-alive connection, or two: either way, marked by connection.
    assert seen["/index.css"].locator("td.conn").inner_text()[-1].isdigit()
    # How the requests add up, in one sentence (tests/e2e/test_runs_e2e.py checks its numbers).
    page.wait_for_function("() => / served in this run: /.test("
                           "document.getElementById('counts-run').textContent)", timeout=10_000)
    # The counters are the server's own (server.stats, once a second), pushed live.
    page.wait_for_function("() => document.getElementById('c-in').textContent !== '0 B'",
                           timeout=10_000)
    page.screenshot(path=str(screenshot_dir / "traffic.png"), full_page=True)

    base = site.base + f"/api/sandboxes/{sandbox['id']}/exchanges/"
    items = page.evaluate("async (u) => (await (await fetch(u)).json()).exchanges", base)
    for path in ("/", "/index.css"):
        item = next(i for i in items if i["target"] == path)
        raw = page.evaluate(RAW, f"{base}{item['seq']}/request.raw")
        assert raw["type"] == "application/octet-stream"
        head = raw["text"].split("\r\n\r\n", 1)[0].split("\r\n")
        assert head[0] == f"GET {path} HTTP/1.1"  # the exact request line
        browser_sent = [f"{h['name']}: {h['value']}" for h in sent[path].headers_array()]
        # Every header line, byte for byte. (Playwright reports them sorted by name, not
        # in wire order, so the order is only in our raw bytes.)
        assert sorted(head[1:]) == sorted(browser_sent)
        assert head[1].startswith("Host: ")  # Chromium sends Host first

    # The detail: CR and LF made visible, hex, decoded, timings.
    seen["/"].click()
    view = page.locator("#part-request .bytes")
    view.locator(".ctl").first.wait_for()
    text = view.inner_text()
    assert text.startswith("GET / HTTP/1.1␍␊\n")
    assert "Host: localhost:" in text
    # The two parts are fetched separately: wait for the response's bytes too.
    response_view = page.locator("#part-response .bytes")
    response_view.locator(".ctl").first.wait_for()
    assert response_view.inner_text().startswith("HTTP/1.1 200 OK␍␊")
    assert "server working" in page.locator("#timing").inner_text()
    page.locator(".tab[data-view=decoded]").click()
    page.locator("#part-response .bytes .decoded-text").wait_for()
    assert "Welcome to HenaServer!" in page.locator("#part-response .bytes").inner_text()
    page.locator("#detail").screenshot(path=str(screenshot_dir / "exchange.png"))
    page.locator(".tab[data-view=hex]").click()
    hex_view = page.locator("#part-request .bytes").inner_text()
    assert hex_view.startswith("00000000  47 45 54 20")

    # Filters and pause work on the view only.
    page.fill("#filter", "method:GET .css")
    page.wait_for_function(
        "() => document.querySelectorAll('#traffic-table tbody tr[data-seq]').length === 1")
    page.fill("#filter", "")
    page.click("#pause")
    tab.reload()
    page.wait_for_function(
        "() => /paused: [1-9]/.test(document.getElementById('showing').textContent)")
    page.click("#pause")

    # A logo request is binary: the decoded view previews it as an image.
    logo = next((i for i in items if i["target"] == "/logo.png"), None)
    if logo is not None:
        page.locator("#traffic-table tbody tr", has=page.locator("td.path", has_text="/logo.png")) \
            .first.click()
        page.locator(".tab[data-view=decoded]").click()
        page.locator("#part-response img.preview").wait_for()

    assert "GET / HTTP/1.1" in page.locator("#console").inner_text()  # the access log
    assert errors == []
