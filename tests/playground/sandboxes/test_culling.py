"""Idle culling on a real daphne (sandboxes/culling.py), with culling times of seconds:

* a running sandbox with no traffic and no viewer is stopped, and its card and its
  run's end say when and why, in English and Japanese; one with an open viewer
  websocket, or with traffic, is not, until the viewer leaves or the traffic stops;
* an anonymous owner's sandboxes are deleted once the owner has not been seen for the
  time (its server ended, its files removed), while an owner who keeps coming keeps
  theirs.

Every wait is for a condition: a sandbox that must not be stopped is checked once a
sandbox started *after* it has been stopped for idleness.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import urllib.error
import urllib.request

from testkit.playgrounds import REPO, Browser, Daphne, migrate, playground_env
from testkit.waiting import wait_until

sys.path.insert(0, str(REPO / "bench"))
from wsclient import WebSocket  # noqa: E402  (bench's stdlib websocket client)

IDLE = 2  # seconds: PLAYGROUND_IDLE_STOP in these tests


def _site(tmp_path, port: int, **settings: str) -> Daphne:
    env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535", **settings)
    migrate(env)
    return Daphne("culling", env, tmp_path, port)


def _hit(port: int) -> bool:
    """One request to a sandbox's server: traffic."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
    except urllib.error.HTTPError as err:
        err.read()
    except OSError:
        return False
    return True


def _status(browser: Browser, site: Daphne, sandbox: dict) -> str:
    return browser.call(site, "GET", sandbox["links"]["self"])[1]["status"]


def _in_japanese(browser: Browser, site: Daphne, path: str) -> dict:
    request = urllib.request.Request(site.base + path, headers={"Accept-Language": "ja"})
    with browser.opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def test_an_idle_unwatched_sandbox_is_stopped_and_says_why(tmp_path, free_ports,
                                                          compiled_translations):
    *ports, site_port = free_ports(5)
    site = _site(tmp_path, site_port, PLAYGROUND_IDLE_STOP=str(IDLE),
                 PLAYGROUND_ABANDONED_DELETE="0")
    ws = None
    try:
        browser = Browser()
        names = ("idle", "watched", "busy", "late")
        idle, watched, busy, late = (browser.new_sandbox(site, name, port)
                                     for name, port in zip(names, ports, strict=True))
        for sandbox in (idle, watched, busy):
            assert browser.call(site, "POST", sandbox["links"]["start"])[0] == 200
        ws = WebSocket("127.0.0.1", site.port, f"/ws/sandboxes/{watched['id']}/", {
            "Origin": site.base, "Cookie": f"sessionid={browser.cookie('sessionid')}"})
        assert _hit(busy["port"])
        assert browser.call(site, "POST", late["links"]["start"])[0] == 200

        # "late" started after the others were watched or busy: once it is stopped for
        # idleness, they would have been too, had the viewer and the traffic not counted.
        def late_stopped() -> bool:
            _hit(busy["port"])  # the traffic goes on while we wait
            return _status(browser, site, late) == "stopped"

        wait_until(late_stopped, 30, "the late idle sandbox to be stopped", interval=0.2,
                   explain=site.output)
        assert _status(browser, site, idle) == "stopped"
        assert _status(browser, site, watched) == "running"
        assert _status(browser, site, busy) == "running"

        # The card says why (problem) and when (stopped_at), in both languages.
        card = browser.call(site, "GET", idle["links"]["self"])[1]
        assert card["problem"] == "stopped after 2 seconds with no traffic and no viewer"
        assert card["stopped_at"] is not None
        ja = _in_japanese(browser, site, idle["links"]["self"])
        assert ja["problem"] == "通信も閲覧者もないまま 2 秒たったので停止しました", ja
        # The run's end records it.
        runs_path = idle["links"]["self"] + "runs/"
        wait_until(lambda: browser.call(site, "GET", runs_path)[1]["runs"][-1]["ended"],
                   10, "the run to be closed")
        ended = browser.call(site, "GET", runs_path)[1]["runs"][-1]["ended"]
        assert ended == "stopped after 2 seconds with no traffic and no viewer"

        # The viewer leaves: that sandbox is idle now. The traffic stops: so is that one.
        ws.close()
        ws = None

        def watched_stopped() -> bool:
            _hit(busy["port"])
            return _status(browser, site, watched) == "stopped"

        wait_until(watched_stopped, 30, "the no longer watched sandbox to be stopped",
                   interval=0.2, explain=site.output)
        assert _status(browser, site, busy) == "running"
        wait_until(lambda: _status(browser, site, busy) == "stopped", 30,
                   "the sandbox without traffic to be stopped", interval=0.2,
                   explain=site.output)
        # A stopped sandbox starts again as usual.
        status, again = browser.call(site, "POST", idle["links"]["start"])
        assert status == 200 and again["status"] == "running", again
        assert again["problem"] == "" and again["stopped_at"] is None
    finally:
        if ws is not None:
            ws.close()
        site.close()


def test_an_abandoned_anonymous_sandbox_is_deleted(tmp_path, free_ports):
    *ports, site_port = free_ports(3)
    site = _site(tmp_path, site_port, PLAYGROUND_IDLE_STOP="0",
                 PLAYGROUND_ABANDONED_DELETE=str(IDLE))
    database = tmp_path / "db.sqlite3"

    def exists(sandbox_id: int) -> bool:
        # Read straight from the database: asking the API as the owner would be a visit.
        with sqlite3.connect(database, timeout=20) as db:
            return bool(db.execute("SELECT count(*) FROM playground_sandbox WHERE id = ?",
                                   (sandbox_id,)).fetchone()[0])

    try:
        gone, stays = Browser(), Browser()
        # Made first: were its owner's visits not counted, it would go no later.
        kept = stays.new_sandbox(site, "kept", ports[1])
        left = gone.new_sandbox(site, "left behind", ports[0])
        assert gone.call(site, "POST", left["links"]["start"])[0] == 200
        files = tmp_path / "data" / "sandboxes" / str(left["id"])
        assert files.is_dir() and _hit(left["port"])

        def left_deleted() -> bool:
            stays.call(site, "GET", "/api/sandboxes/")  # this owner keeps coming back
            return not exists(left["id"])

        wait_until(left_deleted, 30, "the abandoned sandbox to be deleted", interval=0.2,
                   explain=site.output)
        assert exists(kept["id"])
        wait_until(lambda: not _hit(left["port"]), 10, "its server to end")
        wait_until(lambda: not files.exists(), 10, "its files to be removed")
        assert gone.call(site, "GET", left["links"]["self"])[0] == 404
    finally:
        site.close()


def test_two_processes_cull_their_own_and_count_each_others_viewers(tmp_path, free_ports,
                                                                    redis_url):
    """As docs/deploy.md runs it: two daphnes, one database, a real redis-server. Each
    process stops only the idle servers it runs; a viewer on the other process keeps a
    sandbox from being stopped."""
    *ports, port_a, port_b = free_ports(5)
    env = playground_env(tmp_path, REDIS_URL=redis_url, PLAYGROUND_IDLE_STOP=str(IDLE),
                         PLAYGROUND_ABANDONED_DELETE="0", PLAYGROUND_PORT_RANGE="1024-65535")
    migrate(env)
    sites: list[Daphne] = []
    ws = None
    try:
        a, b = Daphne("A", env, tmp_path, port_a), Daphne("B", env, tmp_path, port_b)
        sites = [a, b]
        browser = Browser()
        watched = browser.new_sandbox(a, "watched", ports[0])
        assert browser.call(a, "POST", watched["links"]["start"])[0] == 200
        ws = WebSocket("127.0.0.1", b.port, f"/ws/sandboxes/{watched['id']}/", {
            "Origin": b.base, "Cookie": f"sessionid={browser.cookie('sessionid')}"})
        late_a = browser.new_sandbox(a, "late on A", ports[1])
        late_b = browser.new_sandbox(b, "late on B", ports[2])
        assert browser.call(a, "POST", late_a["links"]["start"])[0] == 200
        assert browser.call(b, "POST", late_b["links"]["start"])[0] == 200

        def both_late_stopped() -> bool:
            return all(_status(browser, a, s) == "stopped" for s in (late_a, late_b))

        wait_until(both_late_stopped, 30, "each process to stop its idle sandbox",
                   interval=0.2, explain=lambda: a.output() + b.output())
        assert _status(browser, a, watched) == "running"  # watched from B
        ws.close()
        ws = None
        wait_until(lambda: _status(browser, b, watched) == "stopped", 30,
                   "the sandbox to be stopped once its viewer on B left", interval=0.2,
                   explain=lambda: a.output() + b.output())
        card = browser.call(b, "GET", watched["links"]["self"])[1]
        assert card["problem"] == "stopped after 2 seconds with no traffic and no viewer"
    finally:
        if ws is not None:
            ws.close()
        for site in sites:
            site.close()
