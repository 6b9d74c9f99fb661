"""Idle culling on a real daphne (sandboxes/culling.py), with culling times of seconds:

* a running sandbox with no traffic and no viewer is stopped, and its card and its
  run's end say when and why, in English and Japanese; one with an open viewer
  websocket, or with traffic, is not, until the viewer leaves or the traffic stops;
* an anonymous owner's sandboxes are deleted once the owner has not been seen for the
  time (its server ended, its files removed), while an owner who keeps coming keeps
  theirs; time the playground was down does not count, and a logged-in user's
  sandboxes are never deleted so;
* a viewer whose websocket sends what no parser should take ("[" * 100_000) is closed
  with 4007 (RFC 6455's 1007 in the application's range), no traceback, and stops
  counting as a viewer;
* the culler's stop releases only the claim it saw: a start that came after it read
  the row keeps running.

Every wait is for a condition: a sandbox that must not be stopped is checked once a
sandbox started *after* it has been stopped for idleness.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import urllib.error
import urllib.request

import pytest
from testkit.playgrounds import REPO, Browser, Daphne, migrate, playground_env
from testkit.waiting import wait_until

from playground.models import Sandbox
from playground.sandboxes import lifecycle, runtime

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


def test_a_viewer_sending_hostile_json_is_closed_cleanly_and_stops_counting(tmp_path,
                                                                            free_ports):
    """Before: decode_json hit RecursionError, daphne logged a traceback and closed with
    1011, and channels never called disconnect(): the viewer counted for ever, and the
    sandbox was never stopped."""
    sandbox_port, site_port = free_ports(2)
    site = _site(tmp_path, site_port, PLAYGROUND_IDLE_STOP=str(IDLE),
                 PLAYGROUND_ABANDONED_DELETE="0")
    try:
        browser = Browser()
        sandbox = browser.new_sandbox(site, "watched", sandbox_port)
        assert browser.call(site, "POST", sandbox["links"]["start"])[0] == 200
        headers = {"Origin": site.base, "Cookie": f"sessionid={browser.cookie('sessionid')}"}
        path = f"/ws/sandboxes/{sandbox['id']}/"
        for hostile, code in (("[" * 100_000, 4007), ('"\\ud800"', 4007),
                              ("not json", 4007), (None, 4003)):
            ws = WebSocket("127.0.0.1", site.port, path, headers)
            if hostile is None:
                ws._send(0x2, b"\x00binary")  # a binary frame: the protocol is text
            else:
                ws.send(hostile)
            while ws.recv() is not None:  # the opening messages, then the close
                pass
            ws.close()
            assert ws.close_code == code, (hostile and hostile[:20], ws.close_code)
        # A ping still works on a fresh socket: the guard refuses only what is bad.
        ws = WebSocket("127.0.0.1", site.port, path, headers)
        ws.send('{"type": "ping", "id": 7}')
        while (message := ws.recv()) is not None and '"pong"' not in message:
            pass
        assert message is not None and json.loads(message) == {"type": "pong", "id": 7}
        ws.close()
        # Every viewer is gone: the sandbox is idle and unwatched, so it is stopped.
        wait_until(lambda: _status(browser, site, sandbox) == "stopped", 30,
                   "the sandbox whose viewers all left to be stopped", interval=0.2,
                   explain=site.output)
        assert "Traceback" not in site.output(), site.output()
    finally:
        site.close()


def test_downtime_is_not_absence_and_a_users_sandbox_is_never_abandoned(tmp_path,
                                                                         free_ports):
    """A class's playground stopped on Friday and started on Monday: every anonymous
    owner was "not seen" for the whole weekend. Before, the first sweep after the start
    deleted all their sandboxes at once. Now nothing goes until the playground has been
    up for the abandon time; then the owner who did not come back loses theirs, and a
    logged-in user's sandbox stays, however long its owner is away."""
    abandon = 5  # seconds
    *ports, port_a, port_b = free_ports(4)
    env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535",
                         PLAYGROUND_IDLE_STOP="0", PLAYGROUND_ABANDONED_DELETE=str(abandon))
    migrate(env)
    database = tmp_path / "db.sqlite3"

    def exists(sandbox_id: int) -> bool:
        with sqlite3.connect(database, timeout=20) as db:
            return bool(db.execute("SELECT count(*) FROM playground_sandbox WHERE id = ?",
                                   (sandbox_id,)).fetchone()[0])

    site = Daphne("before", env, tmp_path, port_a)
    try:
        anonymous, user = Browser(), Browser()
        left = anonymous.new_sandbox(site, "left over the weekend", ports[0])
        owned = user.new_sandbox(site, "a user's", ports[1])
    finally:
        site.close()
    # The weekend: both owners were last seen long ago, and one of them is a user.
    with sqlite3.connect(database, timeout=20) as db:
        db.execute("INSERT INTO auth_user (password, is_superuser, username, first_name, "
                   "last_name, email, is_staff, is_active, date_joined) VALUES "
                   "('!', 0, 'student', '', '', '', 0, 1, '2026-01-01 00:00:00')")
        user_id = db.execute("SELECT id FROM auth_user WHERE username = 'student'") \
            .fetchone()[0]
        db.execute("UPDATE playground_sandbox SET user_id = ? WHERE id = ?",
                   (user_id, owned["id"]))
        db.execute("UPDATE playground_sandbox SET seen_at = '2026-01-02 00:00:00', "
                   "viewed_at = NULL")
    started = time.monotonic()
    site = Daphne("after", env, tmp_path, port_b)
    try:
        wait_until(lambda: not exists(left["id"]), 60,
                   "the anonymous sandbox to be deleted once the playground was up for "
                   "the abandon time", interval=0.2, explain=site.output)
        # A lower bound (a slow machine only makes it later): not at the first sweep.
        assert time.monotonic() - started >= abandon
        assert exists(owned["id"])
    finally:
        site.close()


@pytest.mark.django_db(transaction=True)
def test_the_cullers_stop_leaves_a_later_start_running(client, free_port):
    """The culler read the row (claim A), then the owner stopped and started it again
    (claim B): the culler's stop with claim A must not stop the new run."""
    sandbox = client.post("/api/sandboxes/", {"name": "raced", "port": free_port},
                          content_type="application/json").json()
    try:
        assert client.post(sandbox["links"]["start"]).status_code == 200
        read_by_culler = Sandbox.objects.get(pk=sandbox["id"])
        assert client.post(sandbox["links"]["stop"]).status_code == 200
        assert client.post(sandbox["links"]["start"]).status_code == 200
        row = Sandbox.objects.get(pk=sandbox["id"])
        assert row.claim and row.claim != read_by_culler.claim
        lifecycle.stop(read_by_culler, claim=read_by_culler.claim)
        row.refresh_from_db()
        assert row.status == Sandbox.Status.RUNNING and row.claim
        child = runtime.supervisor().get(row.key)
        assert child is not None and child.tag == row.claim
        assert _hit(free_port)
    finally:
        runtime.stop_all()
