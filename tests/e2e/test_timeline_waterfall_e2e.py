"""The waterfall on the traffic page (issue 16, point 2), in a real Chromium against a
real henaserver, in English and Japanese: one lane per connection on the server's
clock, keep-alive reuse, pipelining and parallel connections counted and drawn, a once
run's end with the refused time after it, zoom by dragging, a bar that opens its
exchange."""

import socket

import pytest
from testkit.language import in_language
from testkit.sandbox_pages import start_in_page
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

FACTS = {
    "en": "3 connections · at most 2 open at once · "
          "2 requests reused a connection (keep-alive) · 1 pipelined",
    "ja": "接続 3 本 · 同時に開いていた接続は最大 2 本 · "
          "2 件のリクエストが接続を再利用 (keep-alive) · パイプライン化 1 件",
}
ONCE_END = {
    "en": "run 1 ended: stopped: the “one request, then exit” mode answered one request "
          "and exited, like the tutorial's first server; start it again for another",
    "ja": "1 回目の起動が終了: 停止: 「1 回だけ応答して終了」モードが 1 回応答して終了しました"
          "（チュートリアルの最初のサーバーと同じです）。もう一度試すには再起動してください",
}


def _read_answers(sock: socket.socket, count: int) -> bytes:
    """Read until ``count`` responses (with Content-Length bodies) have arrived."""
    data = b""
    def complete() -> bool:
        rest, found = data, 0
        while b"\r\n\r\n" in rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if len(rest) < (length[0] if length else 0):
                return False
            rest = rest[length[0] if length else 0:]
            found += 1
        return found >= count
    sock.settimeout(10)
    while not complete():
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def _traffic_on_three_connections(port: int) -> None:
    """A: two requests on one kept-alive connection, B entirely between them (so A and
    B were open at once); C: two requests pipelined in one write."""
    with socket.create_connection(("127.0.0.1", port)) as a:
        a.sendall(_get("/"))
        _read_answers(a, 1)
        with socket.create_connection(("127.0.0.1", port)) as b:
            b.sendall(_get("/index.css"))
            _read_answers(b, 1)
        a.sendall(_get("/logo.png"))
        _read_answers(a, 1)
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(_get("/") + _get("/index.css"))
        _read_answers(c, 2)


def _open_waterfall(page, sandbox, count: int) -> None:
    page.goto(sandbox["links"]["traffic"])
    page.locator("#conn-state[data-state=live]").wait_for(timeout=10_000)
    page.locator("#wf-toggle").click()
    # It polls while shown: the last exchanges may take a moment to be stored.
    page.wait_for_function(
        "(n) => document.querySelectorAll('#wf-chart .wf-bar').length === n", arg=count,
        timeout=15_000)


@pytest.mark.screenshots
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_lanes_show_reuse_pipelining_and_parallel_connections(sandbox_in_new_session,
                                                              shared_playground, lang,
                                                              screenshot_dir):
    page, sandbox, errors = sandbox_in_new_session(f"waterfall {lang}")
    in_language(page, shared_playground.base, lang)
    _traffic_on_three_connections(sandbox["port"])
    page.goto(shared_playground.base + "/")  # relative links below
    sandbox["links"]["traffic"] = shared_playground.base + sandbox["links"]["traffic"]
    _open_waterfall(page, sandbox, 5)

    facts = page.locator("#wf-facts")
    assert facts.inner_text() == FACTS[lang]
    page.locator("#waterfall").screenshot(path=str(screenshot_dir / f"waterfall-{lang}.png"))
    lanes = page.locator("#wf-chart .wf-lane")
    assert lanes.count() == 3
    assert [lanes.nth(i).get_attribute("data-bars") for i in range(3)] == ["2", "1", "2"]
    # The pipelined request sits under the first one, on a second track, dashed.
    piped = lanes.nth(2).locator(".wf-bar.pipelined")
    assert piped.count() == 1
    assert lanes.nth(2).evaluate("(n) => getComputedStyle(n).getPropertyValue('--tracks')") == "2"
    boxes = [lanes.nth(2).locator(".wf-bar").nth(i).bounding_box() for i in range(2)]
    assert boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1
    # A reused connection's bars follow each other in one lane, with the phases inside.
    first_lane = lanes.nth(0).locator(".wf-bar")
    assert first_lane.nth(1).get_attribute("class").split()[:3] == ["wf-bar", "outcome-complete",
                                                                     "reused"]
    assert first_lane.nth(0).locator(".wf-phase.phase-send").count() == 1
    xs = [first_lane.nth(0), lanes.nth(1).locator(".wf-bar"), first_lane.nth(1)]
    x = [bar.bounding_box()["x"] for bar in xs]
    assert x[0] < x[1] < x[2]  # B lies between A's two requests

    # Zoom: drag across the lanes over the first fifth: the view narrows, later bars leave.
    chart = page.locator("#wf-chart")
    whole = int(chart.get_attribute("data-to")) - int(chart.get_attribute("data-from"))
    chart.scroll_into_view_if_needed()
    overlay = page.locator("#wf-chart .wf-overlay").bounding_box()
    y = overlay["y"] + overlay["height"] / 2
    page.mouse.move(overlay["x"] + 2, y)
    page.mouse.down()
    page.mouse.move(overlay["x"] + overlay["width"] * 0.1, y, steps=4)
    page.mouse.move(overlay["x"] + overlay["width"] * 0.2, y, steps=4)
    page.mouse.up()
    zoomed = int(chart.get_attribute("data-to")) - int(chart.get_attribute("data-from"))
    assert zoomed < whole / 3
    assert page.locator("#wf-chart .wf-bar:visible").count() < 5
    page.locator("#wf-whole").click()
    assert int(chart.get_attribute("data-to")) - int(chart.get_attribute("data-from")) == whole

    # A bar is a button: it opens its exchange in the detail panel.
    piped.click()
    seq = piped.get_attribute("data-seq")
    page.locator("#detail").wait_for()
    wait_until(lambda: page.inner_text("#detail-title").startswith(f"#{seq} "), 10,
               "the pipelined exchange in the detail",
               explain=lambda: page.inner_text("#detail-title"))
    assert "/index.css" in page.inner_text("#detail-title")
    assert errors == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_once_run_ends_and_what_followed_was_refused(browser, shared_playground, lang):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    in_language(page, shared_playground.base, lang)
    sandbox = start_in_page(page, "once", mode="once")
    # The waterfall is open before anything happens: the bar, then the end, arrive live.
    sandbox["links"]["traffic"] = shared_playground.base + sandbox["links"]["traffic"]
    _open_waterfall(page, sandbox, 0)
    page.locator("#wf-chart p.empty").wait_for()
    with socket.create_connection(("127.0.0.1", sandbox["port"])) as sock:
        sock.sendall(_get("/"))
        _read_answers(sock, 1)

    def refused() -> bool:  # the follow-up a browser would send: nobody listens
        try:
            socket.create_connection(("127.0.0.1", sandbox["port"]), timeout=2).close()
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:  # caught in the backlog of a listener being closed
            return False
        return False
    wait_until(refused, 10, "the once server to exit")

    page.wait_for_function("() => document.querySelectorAll('#wf-chart .wf-bar').length === 1",
                           timeout=15_000)
    marker = page.locator("#wf-chart .wf-marker-text")
    marker.wait_for(timeout=15_000)  # the run's end reaches the runs API
    assert marker.inner_text().startswith(ONCE_END[lang])
    down = page.locator("#wf-chart .wf-down")
    assert down.count() == 1 and down.get_attribute("data-run") == "1"
    # The hatched time after the end is wider than nothing, and after the one bar.
    bar = page.locator("#wf-chart .wf-bar").bounding_box()
    zone = down.bounding_box()
    assert zone["width"] > 20 and zone["x"] >= bar["x"] + bar["width"] - 1
    assert errors == []
    context.close()


LANES_IN_PAGE = """async (items) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const lanes = await import(new URL("waterfall-lanes.js", screen).href);
  const laid = lanes.layout(items);
  return {
    lanes: laid.map((l) => ({
      key: l.key, tracks: l.tracks,
      bars: l.bars.map((b) => [b.item.seq, b.track, b.pipelined, b.reused]) })),
    facts: lanes.facts(laid),
    near: lanes.domain(laid, [1_000_900]),
    far: lanes.domain(laid, [1_000_000 + 60_000_000]),
  };
}"""


def _item(seq, run, conn, index, first, done, end):
    return {"seq": seq, "run": run, "conn": conn, "index": index, "outcome": "complete",
            "times": {"accepted": first if index == 0 else None, "first_byte": first,
                      "head_complete": done, "request_complete": done,
                      "response_start": done + 5, "response_end": end}}


def test_lanes_tracks_and_range_from_the_servers_times(browser, shared_playground):
    """waterfall-lanes.js on its own: pipelining is a request that began before the
    previous answer ended (a second track), keep-alive reuse an index above 0, the same
    conn number in two runs two connections, and a run's end joins the picture only
    when it came soon after the last bar."""
    base = 1_000_000
    items = [
        _item(1, 1, 1, 0, base, base + 10, base + 50),
        _item(2, 1, 1, 1, base + 20, base + 30, base + 90),   # before #1's end: pipelined
        _item(3, 1, 1, 2, base + 200, base + 210, base + 250),  # after: reuse only
        _item(4, 1, 2, 0, base + 40, base + 45, base + 60),   # a second connection meanwhile
        _item(5, 2, 1, 0, base + 500, base + 510, base + 520),  # conn 1 of run 2: another one
    ]
    page = browser.new_context().new_page()
    page.goto(shared_playground.base + "/")
    got = page.evaluate(LANES_IN_PAGE, items)
    assert got["lanes"] == [
        {"key": "1:1", "tracks": 2,
         "bars": [[1, 0, False, False], [2, 1, True, True], [3, 0, False, True]]},
        {"key": "1:2", "tracks": 1, "bars": [[4, 0, False, False]]},
        {"key": "2:1", "tracks": 1, "bars": [[5, 0, False, False]]},
    ]
    assert got["facts"] == {"connections": 3, "parallel": 2, "reused": 2, "pipelined": 1,
                            "unanswered": 0}
    assert got["near"]["from"] == base and got["near"]["to"] > base + 900
    assert got["far"] == {"from": base, "to": base + 520}
    page.context.close()
