"""The browser side as ES modules, in a real Chromium.

* bytes.js ``headEnd`` follows the one head-splitting rule: every case of
  tests/data/head_split.json, imported into a page with ``await import(url)``.
* A bare-LF request that the server accepted is decoded (start line, headers, body),
  not reported as "the head never ended".
* Every screen, in English and in Japanese, loads its one module with no console error
  and no uncaught exception, and the old ``PG`` namespace is gone (bar a test hook).
* Every file in static/playground/js stays a small module, loaded as one.
"""

import json
import re
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "static" / "playground" / "js"
TEMPLATES = REPO / "templates"
CASES = json.loads((REPO / "tests" / "data" / "head_split.json").read_text("utf-8"))["cases"]
HEAD_NEVER_ENDED = "The head never ended (no empty line): the exchange was cut short."

# Any page with a module script will do: bytes.js sits next to it, wherever STATIC_URL is.
HEAD_END_IN_PAGE = """async ([cases, prefix]) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const { headEnd } = await import(new URL("bytes.js", screen).href);
  const bytesOf = (text) => Uint8Array.from(text, (ch) => ch.charCodeAt(0));
  return cases.map((c) => ({
    name: c.name,
    whole: headEnd(bytesOf(c.message)),
    // The same message after an interim response: found from `start`, offsets shifted.
    after: headEnd(bytesOf(prefix + c.message), prefix.length),
  }));
}"""
INTERIM = "HTTP/1.1 100 Continue\r\n\r\n"


def _old_rule(message: str) -> list[int]:
    """What bytes.js did before: only CR LF CR LF ended a head."""
    at = message.find("\r\n\r\n")
    return [at + 2, at + 4] if at >= 0 else [-1, -1]


def test_the_table_tells_the_old_rule_from_the_new():
    """The browser test below can fail: on the bare-LF cases the old CRLF-only rule
    gives other answers than the table."""
    differ = [c["name"] for c in CASES
              if _old_rule(c["message"]) != [c["head_end"], c["body_start"]]]
    assert any("bare LF" in name for name in differ), differ
    assert all(max(map(ord, c["message"]), default=0) < 256 for c in CASES)  # bytes as text


@pytest.mark.browser
def test_head_end_follows_every_case_of_the_shared_table(browser, shared_playground):
    site = shared_playground
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.base + "/")
    got = page.evaluate(HEAD_END_IN_PAGE, [CASES, INTERIM])
    assert [g["name"] for g in got] == [c["name"] for c in CASES]
    for case, result in zip(CASES, got, strict=True):
        wanted = [case["head_end"], case["body_start"]]
        assert result["whole"] == wanted, case["name"]
        shift = [-1, -1] if wanted == [-1, -1] else [n + len(INTERIM) for n in wanted]
        assert result["after"] == shift, case["name"]
    context.close()


FILTER_IN_PAGE = """async ([cases, items]) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const { parseFilter, matches } = await import(new URL("filters.js", screen).href);
  return cases.map((text) => items.map((item) => matches(item, parseFilter(text))));
}"""


@pytest.mark.browser
def test_filters_js_and_filters_py_agree(browser, shared_playground):
    """The page's filter box and the exports' filter (traffic/filters.py) give the same
    answer for every text of a table, run:N included."""
    from playground.traffic import filters

    items = [
        {"method": "GET", "status": 404, "outcome": "complete", "response_length": 2048,
         "target": "/Index.CSS", "run": 3},
        {"method": "POST", "status": None, "outcome": "rejected", "response_length": 0,
         "target": "/form", "run": 1},
    ]
    # (Outcome names such as status:rejected come from the traffic page's own data, so
    # they are left to the traffic page's tests.)
    cases = ["", "run:3", "run:1,2", "run:x", "run:", "method:get run:3", "status:4xx",
             "larger-than:1k", "index run:3", "RUN:3"]
    page = browser.new_context().new_page()
    page.goto(shared_playground.base + "/")
    got = page.evaluate(FILTER_IN_PAGE, [cases, items])
    expected = [[filters.matches(item, filters.parse(text)) for item in items]
                for text in cases]
    assert got == expected
    assert expected[1] == [True, False] and expected[2] == [False, True]
    page.context.close()


def _send(port: int, raw: bytes) -> bytes:
    """Send one request on its own connection; return the response (head + body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length.group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body


@pytest.mark.browser
def test_a_bare_lf_request_is_decoded_not_cut_short(sandbox_in_new_session, shared_playground):
    page, sandbox, errors = sandbox_in_new_session("bare lf")
    site = shared_playground
    context = page.context
    page.goto(site.base + sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)

    answer = _send(sandbox["port"], b"GET / HTTP/1.1\nHost: x\n\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")  # the server accepted it

    row = page.locator("#traffic-table tbody tr", has=page.locator("td.path", has_text="/")).first
    row.wait_for(timeout=10_000)
    row.click()
    page.locator("#part-request .bytes .ctl").first.wait_for()
    page.locator(".tab[data-view=decoded]").click()
    request = page.locator("#part-request .bytes")
    request.locator(".start-line").wait_for()
    assert request.locator(".start-line").inner_text() == "GET / HTTP/1.1"
    # One header line, and no empty one after it.
    assert request.locator("table.headers tr").all_inner_texts() == ["Host\tx"]
    assert request.locator("p.muted").all_inner_texts() == ["No body."]
    assert HEAD_NEVER_ENDED not in request.inner_text()
    response = page.locator("#part-response .bytes")
    response.locator(".decoded-text").wait_for()
    assert "Welcome to HenaServer!" in response.inner_text()
    assert HEAD_NEVER_ENDED not in response.inner_text()
    assert errors == []
    context.close()


def _ignored(message) -> bool:
    """Chromium asks every site for /favicon.ico; the playground has none."""
    return message.location.get("url", "").endswith("/favicon.ico")


SCREEN_STATE = """() => ({
  classic: [...document.scripts].filter((s) => s.src && s.type !== "module")
                                 .map((s) => new URL(s.src).pathname),
  modules: [...document.querySelectorAll("script[type=module]")]
             .map((s) => new URL(s.src).pathname.split("/").pop()),
  inline: [...document.scripts].filter((s) => !s.src && s.type !== "application/json").length,
  // The old classic scripts' global L10N (a top-level const: a global binding, not
  // a property of window); their PG namespace is checked as the hook below.
  l10nGlobal: typeof L10N !== "undefined",
  hook: window.PG ? Object.keys(window.PG) : null,
  ready: document.documentElement.classList.contains("js-ready"),
  lang: document.documentElement.lang,
})"""


@pytest.mark.browser
def test_every_screen_loads_its_module_without_console_errors(browser, shared_playground,
                                                              start_in_page):
    site = shared_playground
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and not _ignored(m)
            and problems.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
    page.goto(site.base + "/")
    sandbox = start_in_page(page, "screens", page.input_value("#create-port"))
    screens = {
        "home.js": ("/", "#sandbox-list .card[data-status=running]"),
        "sandbox.js": (sandbox["links"]["page"], "#file-tree tbody tr[data-path='index.html']"),
        "traffic.js": (sandbox["links"]["traffic"], "#conn-state[data-state=live]"),
        "tour.js": ("/tour/", "#tour-steps .tour-step"),
        "exchange-diff.js": ("/compare/", "#compare-form"),
    }
    for lang in ("en", "ja"):
        if lang == "ja":
            page.locator("#lang-switch button[value=ja]").click()
            page.wait_for_load_state("load")
        for module, (path, ready) in screens.items():
            page.goto(site.base + path)
            page.locator(ready).first.wait_for(timeout=10_000)
            state = page.evaluate(SCREEN_STATE)
            assert state["lang"] == lang
            assert state["classic"] == ["/jsi18n/"], path  # the catalog; all else modules
            assert state["modules"] == [module], path
            assert state["inline"] == 0, path
            assert state["l10nGlobal"] is False, path
            assert state["hook"] == ["api"], path  # tests/e2e/conftest.py start_in_page
            assert state["ready"], path  # its buttons take clicks (playground.css)
        # The screens' modules really ran, in this language: a card's button label.
        page.goto(site.base + "/")
        stop = "Stop" if lang == "en" else "停止"
        page.locator(".card button[data-action=stop]", has_text=stop).wait_for()
    # Nothing to await here: an error is an absence we watch for a moment, in which
    # late errors (polling, the websocket) would arrive.
    page.wait_for_timeout(500)
    assert problems == []
    context.close()


def test_each_js_file_is_a_small_es_module():
    files = sorted(JS.glob("*.js"))
    assert files
    for path in files:
        text = path.read_text("utf-8")
        assert len(text.splitlines()) < 400, path.name
        assert re.search(r"^(import|export) ", text, re.M), path.name
        assert "PG." not in text and '"use strict"' not in text, path.name  # modules are strict
    loaded = set()
    for template in TEMPLATES.rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", template.read_text("utf-8")):
            if "playground/js/" in tag:
                assert 'type="module"' in tag, (template.name, tag)
                loaded.add(re.search(r"playground/js/([\w.-]+\.js)", tag).group(1))
    assert loaded == {"home.js", "sandbox.js", "traffic.js", "tour.js", "board.js",
                      "exchange-diff.js"}
