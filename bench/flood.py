"""A 10-second wrk flood of a sandbox while a viewer watches its traffic page's websocket.

    .venv/bin/python bench/flood.py                      # wrk -t1 -c10 -d10s
    .venv/bin/python bench/flood.py --seconds 10 --connections 10

Measures, for the playground process (runserver --noreload: one process serves the site
and owns the sandbox):

* RSS: /proc/<pid>/status VmRSS sampled every 100 ms; the peak is reported (target
  <= 300 MB).
* Event-loop lag: the site runs with PLAYGROUND_LOOP_LAG_LOG=1, so live.LoopLagMonitor
  logs "loop lag max X ms" each second (how late a 50 ms sleep wakes); the worst line
  during the flood is reported (target <= 100 ms). A websocket ping/pong round trip,
  every 100 ms, shows the same from a client's side.
* Totals: the playground's total is the server's own `server.stats` (read after the
  sandbox is stopped, so its final stats are in). wrk's "N requests" counts responses
  it finished reading; requests still in flight when its duration ends were sent and
  answered (the server counts them) but are not in that number: 0 to one per
  connection. So bench/count_sent.lua also counts the requests wrk wrote, and the exact
  identity checked is: playground total == requests wrk sent, and
  total - wrk's "requests" == the in-flight ones (<= connections).
* The viewer keeps the newest exchanges: the last summary it received has the
  sandbox's last seq.
* With --browser, the traffic page itself in Chromium (Playwright) watches too: the
  longest gap between two animation frames during the flood (main-thread jank), the
  highest req/s it displayed, its request counter at the end (must equal the total) and
  whether its last row is the newest exchange.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playground_proc import Playground, launch_chromium  # noqa: E402

TARGET_RSS_MB, TARGET_LAG_MS = 300.0, 100.0


PAUSED = False
WATCH = """() => {
  window.__bench = {maxGap: 0, maxRate: 0, frames: 0, over50: 0, over100: 0};
  let last = performance.now();
  const tick = (now) => {
    const b = window.__bench;
    b.maxGap = Math.max(b.maxGap, now - last);
    b.frames++;
    if (now - last > 50) b.over50++;
    if (now - last > 100) b.over100++;
    last = now;
    const rate = Number(document.getElementById("c-rate").textContent.replace(/,/g, ""));
    window.__bench.maxRate = Math.max(window.__bench.maxRate, rate || 0);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def run(seconds: int, connections: int, browser: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        site = Playground(Path(tmp), env={"PLAYGROUND_LOOP_LAG_LOG": "1"})
        try:
            if not browser:
                return _flood(site, seconds, connections, None)
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                chromium = launch_chromium(pw)
                try:
                    return _flood(site, seconds, connections, chromium)
                finally:
                    chromium.close()
        finally:
            site.close()


def _open_page(site: Playground, sb: dict, chromium):
    page = site.traffic_page(chromium, sb)
    page.evaluate(WATCH)
    if PAUSED:  # control run: the page receives everything but draws no rows
        page.click("#pause")
    return page


def _page_result(page, total: int) -> dict:
    if PAUSED:
        page.click("#pause")
    page.wait_for_function(
        f"() => document.getElementById('c-requests').textContent.replace(/,/g, '') == {total}",
        timeout=15_000)
    bench = page.evaluate("() => window.__bench")
    rows = page.locator("#traffic-table tbody tr")
    return {"max_frame_gap_ms": bench["maxGap"], "max_rate": bench["maxRate"],
            "frames": bench["frames"], "over50": bench["over50"], "over100": bench["over100"],
            "counter": page.locator("#c-requests").inner_text(),
            "rows": rows.count(), "last_row_seq": int(rows.last.get_attribute("data-seq")),
            "showing": page.locator("#showing").inner_text()}


def _flood(site: Playground, seconds: int, connections: int, chromium) -> dict:
    sb = site.sandbox()
    page = _open_page(site, sb, chromium) if chromium is not None else None
    ws = site.websocket(sb["id"])
    viewer = {"rows": 0, "last_seq": 0, "skipped": 0, "messages": 0, "stats": None,
              "rtt": [], "pings": {}}
    done = threading.Event()

    def read() -> None:
        while (text := ws.recv()) is not None:
            msg = json.loads(text)
            viewer["messages"] += 1
            if msg["type"] == "exchanges":
                viewer["rows"] += len(msg["items"])
                viewer["skipped"] += msg.get("skipped", 0)
                if msg["items"]:
                    viewer["last_seq"] = msg["items"][-1]["seq"]
            elif msg["type"] == "stats":
                viewer["stats"] = msg
            elif msg["type"] == "pong" and msg["id"] in viewer["pings"]:
                viewer["rtt"].append((time.perf_counter() - viewer["pings"][msg["id"]]) * 1000)

    def ping() -> None:
        n = 0
        while not done.wait(0.1):
            n += 1
            viewer["pings"][n] = time.perf_counter()
            ws.send(json.dumps({"type": "ping", "id": n}))

    rss: list[int] = []

    def sample() -> None:
        while not done.wait(0.1):
            rss.append(site.rss_kib())

    threads = [threading.Thread(target=f, daemon=True) for f in (read, ping, sample)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    log_before = site.log_path.read_text(errors="replace").count("\n")
    url = f"http://127.0.0.1:{sb['port']}/index.html"
    script = str(Path(__file__).resolve().parent / "count_sent.lua")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, url]
    wrk = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    time.sleep(3.0)  # the server's next stats, the ingest queue draining
    log_lines = site.log_path.read_text(errors="replace").splitlines()[log_before:]
    site.call("POST", sb["links"]["stop"])  # henaserver sends its final stats when stopping
    time.sleep(1.0)
    done.set()
    final = site.call("GET", sb["links"]["self"])
    history = site.call("GET", sb["links"]["exchanges"] + "?after=0&limit=1")["stats"]
    ws.close()
    page_result = _page_result(page, final["requests"]) if page is not None else None
    lags = [float(m.group(1)) for line in log_lines
            if (m := re.search(r"loop lag max ([\d.]+) ms", line))]
    return {
        "cmd": " ".join(cmd), "wrk": wrk,
        "wrk_requests": int(re.search(r"(\d+) requests in", wrk).group(1)),
        "wrk_sent": int(re.search(r"requests sent: (\d+)", wrk).group(1)),
        "requests": final["requests"], "errors": final["errors"],
        "history": history, "viewer": viewer, "rss_peak_mb": max(rss) / 1024,
        "rss_before_mb": rss[0] / 1024 if rss else 0, "lag_max_ms": max(lags or [0.0]),
        "lag_samples": len(lags), "lags": lags, "page": page_result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--browser", action="store_true",
                        help="also watch with the traffic page in Chromium")
    parser.add_argument("--paused", action="store_true",
                        help="with --browser: press Pause first (a control: no row drawing)")
    args = parser.parse_args()
    global PAUSED
    PAUSED = args.paused
    r = run(args.seconds, args.connections, args.browser)
    v, h = r["viewer"], r["history"]
    rtt = sorted(v["rtt"]) or [0.0]
    in_flight = r["requests"] - r["wrk_requests"]
    exact = r["wrk_sent"] == r["requests"] and 0 <= in_flight <= args.connections
    print(f"$ {r['cmd']}")
    print(re.sub(r"(?m)^", "  ", r["wrk"].rstrip()))
    print(f"playground total {r['requests']} (errors {r['errors']}); wrk sent "
          f"{r['wrk_sent']}: {'EXACT' if r['wrk_sent'] == r['requests'] else 'MISMATCH'}; "
          f"wrk completed {r['wrk_requests']}, so {in_flight} were in flight at the end "
          f"(<= {args.connections} connections)")
    print(f"stored {h['stored']} (retention), last seq {h['last_seq']}, events dropped: "
          f"server {h['dropped']['server']}, playground {h['dropped']['playground']}")
    print(f"viewer: {v['messages']} messages, {v['rows']} rows, {v['skipped']} skipped, "
          f"last row seq {v['last_seq']} (newest kept: {v['last_seq'] == h['last_seq']})")
    print(f"site RSS: {r['rss_before_mb']:.0f} MB before, peak {r['rss_peak_mb']:.0f} MB "
          f"(target <= {TARGET_RSS_MB:g})")
    print(f"event-loop lag: worst {r['lag_max_ms']:.1f} ms over {r['lag_samples']} one-second "
          f"windows (target <= {TARGET_LAG_MS:g}); websocket ping RTT p50 "
          f"{rtt[len(rtt) // 2]:.1f} ms, max {rtt[-1]:.1f} ms ({len(rtt)} pings)")
    print("  worst lag per second: " + " ".join(f"{x:.0f}" for x in r["lags"]))
    if r["page"]:
        p = r["page"]
        print(f"traffic page in Chromium: {p['frames']} frames, {p['over50']} over 50 ms, "
              f"{p['over100']} over 100 ms, longest gap {p['max_frame_gap_ms']:.0f} ms, "
              f"highest req/s shown {p['max_rate']:,.0f}, requests counter {p['counter']}, "
              f"{p['rows']} rows, last row seq {p['last_row_seq']} "
              f"(newest: {p['last_row_seq'] == h['last_seq']}); \"{p['showing']}\"")
    ok = (exact and r["rss_peak_mb"] <= TARGET_RSS_MB and r["lag_max_ms"] <= TARGET_LAG_MS)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
