"""One request to everyone in real browsers (issue 15 point 4): two students each run a
sandbox (one in full mode, one in no-content-type mode); the teacher, on the class
board, sends one raw request to the class, sees "2 of 2 answered", each answer beside
henaserver's with the differing bytes marked (only for the student whose server
differs), and the student finds it in her traffic marked "sent by your teacher".

A playground of its own (its database gets a class made with the ORM), a real Chromium.
"""

import pytest
from testkit.class_browsers import login, make_class

pytestmark = pytest.mark.browser

START = """async ([port, mode]) => {
  const sb = await PG.api("POST", "/api/sandboxes/", {name: "site", port, mode});
  await PG.api("POST", sb.links.starter, {});
  return await PG.api("POST", sb.links.start);
}"""

REQUEST = "GET /index.css HTTP/1.1\nHost: localhost\nConnection: close\n\n"


def test_one_request_to_the_class_compared_and_marked(browser, playground_factory,
                                                     screenshot_dir, free_ports,
                                                     monkeypatch):
    # Ports the OS chose (the form's suggestion is every playground's on this machine).
    ports = sorted(free_ports(2))
    monkeypatch.setenv("PLAYGROUND_PORT_RANGE", f"{ports[0]}-{ports[1]}")
    site = playground_factory()
    class_id = make_class(site.env, ("aiko", "ben"), code="BRDC2345", first_names={
        "sato": "Sato", "aiko": "Aiko", "ben": "Ben"})["class"]
    sessions = {name: login(browser, site, name) for name in ("sato", "aiko", "ben")}
    try:
        sandboxes = {}
        for (name, mode), port in zip((("aiko", "full"), ("ben", "no-content-type")),
                                      ports, strict=True):
            page = sessions[name][1]
            page.goto(site.base + "/")
            sandboxes[name] = page.evaluate(START, [port, mode])
            assert sandboxes[name]["status"] == "running"

        board = sessions["sato"][1]
        board.goto(f"{site.base}/classes/{class_id}/")
        board.wait_for_selector("#broadcast-presets button")
        assert board.inner_text("#broadcast-running").endswith("2")
        board.fill("#broadcast-text", REQUEST)
        board.click("#broadcast-send")
        board.wait_for_function(
            "() => document.getElementById('broadcast-progress').textContent"
            " === '2 of 2 answered'", timeout=60_000)

        aiko = board.locator(".answer[data-student=aiko]")
        ben = board.locator(".answer[data-student=ben]")
        assert aiko.locator(".verdict").get_attribute("class") == "verdict same"
        assert ben.locator(".verdict").get_attribute("class") == "verdict differs"
        assert aiko.locator(".diff-byte:not(.expected)").count() == 0
        marked = ben.locator(".side").nth(1).locator(".diff-byte:not(.expected)")
        assert marked.count() >= 1
        # The stylesheet labelled text/html by ben's mode, text/css by henaserver: the
        # marked bytes are in the Content-Type line; CR and LF are shown.
        assert "css" in marked.first.inner_text() or "css" in marked.last.inner_text()
        assert "␍␊" in ben.locator(".side").nth(0).inner_text()
        board.locator("#broadcast").screenshot(path=str(screenshot_dir / "broadcast-en.png"))

        # The teacher follows the link to Aiko's traffic (read-only), at that exchange.
        with board.expect_navigation():
            aiko.get_by_role("link", name="in their traffic").click()
        board.locator("#traffic-table tbody tr[data-sent-by=teacher]").first.wait_for(
            timeout=15_000)

        # Aiko finds it in her traffic, marked as sent by her teacher.
        student = sessions["aiko"][1]
        student.goto(site.base + sandboxes["aiko"]["links"]["traffic"])
        tag = student.locator("#traffic-table tbody tr[data-sent-by=teacher] .teacher-tag")
        tag.first.wait_for(timeout=15_000)
        assert tag.first.inner_text() == "sent by your teacher"
        for _, _page, errors in sessions.values():
            assert errors == [], errors
    finally:
        for context, _, _ in sessions.values():
            context.close()
