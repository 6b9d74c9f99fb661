"""A page uploaded to a sandbox cannot act on the playground, in a real Chromium.

The learner's own sandbox serves ``evil.html``, which tries everything a page can do to
the playground with the learner's cookies: read the sandbox list, create a sandbox,
stop its own sandbox with the CSRF token read from ``document.cookie``, and open the
traffic websocket. It is opened on both host names:

* ``localhost:S``, the default "Open" link (another host name: no playground cookies);
* ``127.0.0.1:S``, the playground's own host name on another port (the worst case: the
  browser sends the playground's cookies, and the page can even read ``csrftoken``).

Each attempt fails (CORS, Django's CSRF origin check, the websocket's exact origin
check), and afterwards the playground shows one sandbox, still running.
"""

import pytest

pytestmark = pytest.mark.browser

EVIL = """<!doctype html><meta charset="utf-8"><title>evil</title><script>
const PG = "%(playground)s", ID = %(id)d, PORT = %(port)d;
const OTHER_PORT = %(other_port)d;  // one the playground would accept for "pwned"
window.results = {};
async function attempt(name, fn) {
  try { results[name] = await fn(); } catch (e) { results[name] = "blocked: " + e.name; }
}
(async () => {
  results.cookie = document.cookie;
  const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  await attempt("read", async () => (await fetch(PG + "/api/sandboxes/",
      {credentials: "include"})).status);
  await attempt("create", async () => (await fetch(PG + "/api/sandboxes/", {
      method: "POST", credentials: "include", mode: "no-cors",
      headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({name: "pwned", port: OTHER_PORT})})).type);
  await attempt("stop", async () => (await fetch(PG + "/api/sandboxes/" + ID + "/stop/", {
      method: "POST", credentials: "include", mode: "no-cors",
      body: new URLSearchParams({csrfmiddlewaretoken: token})})).type);
  await attempt("stop_with_header", async () => (await fetch(
      PG + "/api/sandboxes/" + ID + "/stop/", {method: "POST", credentials: "include",
      headers: {"X-CSRFToken": token}})).status);
  results.websocket = await new Promise(resolve => {
    const ws = new WebSocket(PG.replace("http", "ws") + "/ws/sandboxes/" + ID + "/");
    ws.onopen = () => { resolve("open"); ws.close(); };
    ws.onclose = () => resolve("refused");
    setTimeout(() => resolve("timeout"), 8000);
  });
  window.done = true;
})();
</script>"""


SETUP = """async () => {
  const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
  const json = {"X-CSRFToken": token, "Content-Type": "application/json"};
  const port = (await (await fetch("/api/sandboxes/?suggest=1")).json()).suggested_port;
  const r = await fetch("/api/sandboxes/", {method: "POST", headers: json,
                                            body: JSON.stringify({name: "mine", port})});
  return await r.json();
}"""

UPLOAD_AND_START = """async ([sb, html]) => {
  const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
  await fetch(sb.links.files + "evil.html", {method: "PUT", body: html,
      headers: {"X-CSRFToken": token, "Content-Type": "text/html"}});
  const r = await fetch(sb.links.start, {method: "POST", headers: {"X-CSRFToken": token}});
  return await r.json();
}"""

FORM_STOP = """async (url) => {
  const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
  const r = await fetch(url, {method: "POST",
                              body: new URLSearchParams({csrfmiddlewaretoken: token})});
  return [r.status, (await r.json()).status];
}"""

LIST = """async () => (await (await fetch("/api/sandboxes/")).json()).sandboxes"""

SUGGESTED_PORT = """async () =>
  (await (await fetch("/api/sandboxes/?suggest=1")).json()).suggested_port"""


def test_a_sandbox_page_cannot_act_on_the_playground(browser, shared_playground):
    site = shared_playground  # on http://127.0.0.1:P
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.base + "/")
    sandbox = page.evaluate(SETUP)
    assert "id" in sandbox, sandbox
    port = sandbox["port"]
    other_port = page.evaluate(SUGGESTED_PORT)  # in range and free: only CSRF can refuse
    assert other_port != port
    html = EVIL % {"playground": site.base, "id": sandbox["id"], "port": port,
                   "other_port": other_port}
    started = page.evaluate(UPLOAD_AND_START, [sandbox, html])
    assert started.get("status") == "running", started

    outcomes = {}
    for host in ("127.0.0.1", "localhost"):
        evil = context.new_page()
        evil.goto(f"http://{host}:{port}/evil.html")
        evil.wait_for_function("() => window.done === true", timeout=20_000)
        outcomes[host] = evil.evaluate("() => window.results")
        evil.close()

    other_host, same_host = outcomes["localhost"], outcomes["127.0.0.1"]
    # On the default host name the page has none of the playground's cookies...
    assert other_host["cookie"] == ""
    # ...on the same host name it has (cookies ignore ports): the worst case is real.
    assert "csrftoken=" in same_host["cookie"] and "sessionid" not in same_host["cookie"]
    for host, got in outcomes.items():
        assert got["read"].startswith("blocked"), (host, got)  # CORS: no reading
        assert got["stop_with_header"].startswith("blocked"), (host, got)  # no preflight OK
        assert got["websocket"] == "refused", (host, got)
    page.bring_to_front()
    after = page.evaluate(LIST)
    assert [(s["name"], s["status"]) for s in after] == [("mine", "running")]
    # The control case: the very same form-encoded stop, cookies and token, sent from the
    # playground's own origin, works. So what refused the sandbox page's copy (no
    # preflight, cookies sent on 127.0.0.1) was Django's CSRF Origin check.
    stopped = page.evaluate(FORM_STOP, sandbox["links"]["stop"])
    assert stopped == [200, "stopped"]
    context.close()


XSS = '<img src=x onerror="window.pwned=1">'
CONTROL_IMAGE = """() => {
  const img = new Image();
  img.onerror = () => { window.control = 1; };
  img.src = "x";
}"""


def test_captured_bytes_are_shown_as_text_never_as_html(browser, shared_playground):
    """Hostile bytes in a request (header, target) and a response (an uploaded page)
    appear literally on the traffic page and in the exchange detail; nothing runs."""
    site = shared_playground
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.base + "/")
    sandbox = page.evaluate(SETUP)
    started = page.evaluate(UPLOAD_AND_START, [sandbox, f"<h1>hi</h1>{XSS}"])
    assert started["status"] == "running"
    page.goto(site.base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    import socket

    with socket.create_connection(("127.0.0.1", sandbox["port"])) as sock:
        sock.sendall(b"GET /evil.html?%3Cimg%20src=x%20onerror=window.pwned=2%3E HTTP/1.1\r\n"
                     b"Host: x\r\nX-Evil: " + XSS.encode() + b"\r\nConnection: close\r\n\r\n")
        sock.settimeout(5)
        while sock.recv(65536):
            pass
    row = page.locator("#traffic-table tbody tr[data-seq]").first  # not a run divider
    row.wait_for(timeout=10_000)
    row.click()
    request_view = page.locator("#part-request .bytes")
    request_view.locator(".ctl").first.wait_for()
    assert XSS in request_view.inner_text()
    page.locator(".tab[data-view=decoded]").click()
    response_view = page.locator("#part-response .bytes")
    response_view.locator(".decoded-text").wait_for()
    assert XSS in response_view.inner_text()
    # A control image with the same broken src, made now: once its onerror has run, the
    # onerror of one the page had (wrongly) made from the bytes would have run too.
    page.evaluate(CONTROL_IMAGE)
    page.wait_for_function("() => window.control === 1")
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("#detail img").count() == 0
    context.close()
