"""The composer in a real Chromium: compose a malformed request on the traffic page,
send it, see the 400 with CR/LF visible, and the rejected exchange in the traffic list;
then replay it from the exchange detail."""

import pytest

pytestmark = pytest.mark.browser


def test_compose_a_malformed_request_and_see_the_400(sandbox_in_new_session, shared_playground):
    page, sandbox, errors = sandbox_in_new_session("composer")
    site = shared_playground
    assert sandbox["status"] == "running"
    page.goto(site.base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)

    page.click("#panel-tab-composer")  # the composer has a tab of its own (panes.js)
    page.click("#composer-templates [data-template=malformed]")
    typed = page.input_value("#composer-text")
    assert typed.startswith("GET /index.html HTTP/1.1 extra\n")
    assert f":{sandbox['port']}" in typed  # the sandbox's real host:port in Host
    assert "400" in page.inner_text("#composer-explain")
    page.click("#composer-send")
    response = page.locator("#composer-response")
    response.locator(".ctl").first.wait_for(timeout=10_000)
    assert response.inner_text().startswith("HTTP/1.1 400 Bad Request␍␊\n")
    assert "the server closed the connection" in page.inner_text("#composer-summary")
    page.click("#composer .ctab[data-view=hex]")
    assert response.inner_text().startswith("00000000  48 54 54 50 2f 31 2e 31 ")

    # The exchange is in the traffic view like any other: rejected, with its 400.
    page.click("#panel-tab-exchanges")
    row = page.locator("#traffic-table tbody tr.outcome-rejected").first
    row.wait_for(timeout=10_000)
    assert row.locator("td.status .code").inner_text() == "400"
    assert row.locator("td.status .outcome-tag").inner_text() == "rejected"

    # Replay: open it in the composer (exact bytes), re-send it (a second 400).
    row.click()
    page.get_by_role("button", name="Open in composer").click()
    page.wait_for_function(
        "() => document.getElementById('composer-endings').value === 'exact'")
    assert page.input_value("#composer-text").startswith("GET /index.html HTTP/1.1 extra")
    assert page.is_visible("#composer-text")  # "Open in composer" showed the composer's tab
    page.click("#panel-tab-exchanges")
    page.get_by_role("button", name="Re-send").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#traffic-table tbody tr.outcome-rejected').length === 2",
        timeout=10_000)
    items = page.evaluate("async (u) => (await (await fetch(u)).json()).exchanges",
                          sandbox["links"]["exchanges"])
    raws = [page.evaluate("async (u) => (await (await fetch(u)).text())",
                          sandbox["links"]["exchanges"] + f"{i['seq']}/request.raw")
            for i in items]
    assert raws[0] == raws[1] and raws[0].startswith("GET /index.html HTTP/1.1 extra\r\n")
    # Exports from the detail: the tutorial's file names.
    page.click("#panel-tab-exchanges")
    assert page.get_by_role("link", name="server_recv.txt").get_attribute("download") \
        == "server_recv.txt"
    page.fill("#filter", "status:4xx")
    assert page.get_attribute("#export-har", "href").endswith(
        "export.har?run=current&filter=status%3A4xx")  # this run (the default), filtered
    assert errors == []
