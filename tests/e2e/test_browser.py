"""The user story in a real Chromium: start a sandbox from the page, add the starter
site, open the sandbox in a new tab on the other host name, and see it work."""

import os
import signal
import socket

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.screenshots
def test_start_a_sandbox_add_the_starter_site_and_open_it(browser, shared_playground,
                                                          screenshot_dir):
    site = shared_playground
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page_errors = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))

    page.goto(site.base + "/")  # the playground on "127.0.0.1"
    page.fill("#create-name", "my first site")
    port = int(page.input_value("#create-port"))
    page.click("#create-button")
    card = page.locator(".card", has_text="my first site")
    card.locator(".badge.status-running").wait_for(timeout=15_000)
    assert f"port {port}" in card.locator(".facts").inner_text()

    card.get_by_role("link", name="Files").click()
    page.get_by_role("button", name="Starter site").click()
    page.locator('tr[data-path="logo.png"]').wait_for()
    page.locator('tr[data-path="index.css"]').wait_for()

    with context.expect_page() as opened:
        page.get_by_role("link", name="Open ↗").click()
    sandbox = opened.value
    sandbox.wait_for_load_state("load")
    assert sandbox.url == f"http://localhost:{port}/"  # another host name: no shared cookies
    assert sandbox.evaluate("document.cookie") == ""

    heading = sandbox.locator("h1")
    assert heading.inner_text() == "Welcome to HenaServer!"
    assert heading.evaluate("h => getComputedStyle(h).color") == "rgb(255, 0, 0)"
    logo = sandbox.locator("img[alt=logo]")
    assert logo.evaluate("img => img.complete && img.naturalWidth") > 0

    # The request count on the card comes from the server's own statistics.
    page.bring_to_front()
    facts = "document.querySelector('.facts').textContent"
    page.wait_for_function(f"() => /([3-9]|\\d\\d+) requests/.test({facts})", timeout=10_000)
    page.screenshot(path=str(screenshot_dir / "sandbox.png"), full_page=True)
    page.goto(site.base + "/")
    page.locator(".card .badge.status-running").wait_for()
    page.screenshot(path=str(screenshot_dir / "home.png"), full_page=True)

    assert page_errors == []
    context.close()


def _taken_port_in_range(sock) -> int:
    for port in range(8999, 8000, -1):  # the default range, from the top
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        sock.listen()
        return port
    raise RuntimeError("no free port in 8000-8999")


def test_errors_and_crashes_are_explained_on_the_page(browser, shared_playground):
    site = shared_playground
    page = browser.new_page()
    page.goto(site.base + "/")

    with socket.socket() as taken:
        port = _taken_port_in_range(taken)
        page.fill("#create-port", str(port))
        page.click("#create-button")
        error = page.locator(".notice.error")
        error.wait_for()
        assert f"port {port} is already used by another program" in error.inner_text()
    assert page.locator(".card").count() == 0  # nothing half-created

    page.locator(".notice .close").first.click()
    page.fill("#create-port", str(port))  # free again now
    page.click("#create-button")
    card = page.locator(".card")
    card.locator(".badge.status-running").wait_for(timeout=15_000)
    pid = int(card.locator(".facts").inner_text().split("pid ")[1].split()[0])
    os.kill(pid, signal.SIGKILL)
    card.locator(".badge.status-crashed").wait_for(timeout=10_000)
    assert "killed by signal SIGKILL (exit code -9)" in card.inner_text()
    card.get_by_role("button", name="Start").click()  # one click brings it back
    card.locator(".badge.status-running").wait_for(timeout=15_000)
    page.close()


def test_folder_upload_edit_and_refusals_in_the_files_panel(browser, shared_playground,
                                                            tmp_path):
    site = shared_playground
    api = site.api()
    port = api.call("GET", "/api/sandboxes/?suggest=1")[1]["suggested_port"]
    sb = api.call("POST", "/api/sandboxes/", {"name": "panel", "port": port})[1]
    api.call("POST", sb["links"]["start"])

    context = browser.new_context()
    context.add_cookies([{"name": c.name, "value": c.value, "url": site.base}
                         for c in api.jar])  # the same session as the API client
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(site.base + sb["links"]["page"])

    folder = tmp_path / "mysite"
    (folder / "css").mkdir(parents=True)
    (folder / "index.html").write_text("<h1>from a folder</h1>")
    (folder / "css" / "site.css").write_text("h1 { color: blue; }")
    page.set_input_files("#pick-folder", str(folder))
    page.locator('tr[data-path="mysite/css/site.css"]').wait_for()

    page.locator('tr[data-path="mysite/index.html"]').get_by_role("button", name="Edit").click()
    page.fill("#editor-text", "<h1>edited in the browser</h1>")
    page.click("#editor-save")
    page.get_by_text("Saved.").wait_for()
    sandbox = context.new_page()
    sandbox.goto(f"{sb['url']}mysite/")
    assert sandbox.locator("h1").inner_text() == "edited in the browser"

    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (5 * 1024 * 1024 + 1))
    page.set_input_files("#pick-files", str(big))
    assert "the limit per file is" in page.locator(".notice.error").inner_text()

    page.locator('tr[data-path="mysite"]').get_by_role("button", name="Delete").click()
    page.locator('tr[data-path="mysite"]').wait_for(state="detached")
    assert page.locator("#no-files").is_visible()
    context.close()
