"""Scale-out on Channels' real engine: a real redis-server, two real daphne processes
sharing one database and data directory, as docs/deploy.md runs them behind nginx.

* A viewer connected to process B receives, live, the traffic of a sandbox that
  process A started (the ingest writer sends through the channel layer only).
* Process B starting up does not mark A's running sandbox stopped (reconcile).
* Stop works from either process: B asks A over the control group (control.py), and
  after B started the sandbox itself, A asks B.

The redis-server comes from the ``redis_url`` fixture (tests/conftest.py).
"""

import json
import os
import signal
import sys
import urllib.error
import urllib.request

from testkit.playgrounds import REPO, Browser, Daphne, one_port_env, two_daphnes
from testkit.waiting import wait_until

sys.path.insert(0, str(REPO / "bench"))
from wsclient import WebSocket  # noqa: E402  (bench's stdlib websocket client)


def _websocket(browser: Browser, site: Daphne, sandbox_id: int) -> WebSocket:
    ws = WebSocket("127.0.0.1", site.port, f"/ws/sandboxes/{sandbox_id}/", {
        "Origin": site.base,
        "Cookie": f"sessionid={browser.cookie('sessionid')}"})
    ws.sock.settimeout(20)
    return ws


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):  # reaped before open, or before read
        return False


def _get(port: int, path: str) -> None:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
    except urllib.error.HTTPError as err:
        err.read()


def _receive_targets(ws: WebSocket, port: int, wanted: set[str]) -> set[str]:
    """Send a request per wanted path now and then, until the socket has shown them all."""
    seen: set[str] = set()
    for path in wanted:
        _get(port, path)

    def saw_them_all() -> bool:  # each call waits for the next message
        text = ws.recv()
        assert text is not None, "the websocket closed"
        message = json.loads(text)
        if message.get("type") == "exchanges":
            seen.update(item["target"] for item in message["items"])
        return wanted <= seen

    wait_until(saw_them_all, 30, f"the viewer to see {sorted(wanted)}", interval=0,
               explain=lambda: f"the viewer saw only {seen}")
    return seen


def test_two_daphne_processes_share_live_traffic_and_stop(tmp_path, redis_url, free_ports,
                                                         pid_gone):
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url)
    sites: list[Daphne] = []
    try:
        a = Daphne("A", env, tmp_path, port_a)
        sites.append(a)
        browser = Browser()
        sandbox = browser.new_sandbox(a, "shared", sandbox_port)
        links = sandbox["links"]
        status, started = browser.call(a, "POST", links["start"])
        assert status == 200 and started["status"] == "running", started
        pid = started["pid"]

        # B starts now: its first request reconciles the database, and must leave A's
        # running sandbox alone.
        b = Daphne("B", env, tmp_path, port_b)
        sites.append(b)
        status, seen_by_b = browser.call(b, "GET", links["self"])
        assert status == 200 and seen_by_b["status"] == "running" and seen_by_b["pid"] == pid
        assert _alive(pid)

        # A viewer on B receives what A's child serves, live.
        ws = _websocket(browser, b, sandbox["id"])
        try:
            got = _receive_targets(ws, sandbox_port, {"/hello-from-a", "/second"})
            assert {"/hello-from-a", "/second"} <= got
        finally:
            ws.close()

        # Start on B is a no-op (A runs it); stop on B reaches A and waits for it.
        status, again = browser.call(b, "POST", links["start"])
        assert status == 200 and again["pid"] == pid
        status, stopped = browser.call(b, "POST", links["stop"])
        assert status == 200 and stopped["status"] == "stopped", stopped
        assert pid_gone(pid, timeout=10), "A's child did not exit"
        assert browser.call(a, "GET", links["self"])[1]["status"] == "stopped"
        assert "did not answer" not in stopped["message"]  # A answered, no fallback

        # The other way round: B owns it now, a viewer on A sees B's traffic, A stops it.
        status, on_b = browser.call(b, "POST", links["start"])
        assert status == 200 and on_b["status"] == "running", on_b
        ws = _websocket(browser, a, sandbox["id"])
        try:
            assert "/from-b" in _receive_targets(ws, sandbox_port, {"/from-b"})
        finally:
            ws.close()
        status, stopped = browser.call(a, "POST", links["stop"])
        assert status == 200 and stopped["status"] == "stopped", stopped
        assert pid_gone(on_b["pid"], timeout=10), "B's child did not exit"
        assert browser.call(b, "GET", links["self"])[1]["status"] == "stopped"
    finally:
        for site in sites:
            site.close()


def test_a_stop_for_a_vanished_owner_ends_the_child_and_says_why(tmp_path, redis_url,
                                                                 free_ports, pid_gone):
    """A's process is frozen (SIGSTOP: alive, but answering nothing): B's stop waits
    control.STOP_WAIT seconds, then ends the child itself and records the reason."""
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url)
    with two_daphnes(env, tmp_path, port_a, port_b) as (a, b):
        browser = Browser()
        status, sandbox = browser.call(a, "POST", "/api/sandboxes/",
                                       {"name": "orphan", "port": sandbox_port})
        status, started = browser.call(a, "POST", sandbox["links"]["start"])
        assert started["status"] == "running"
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            status, stopped = browser.call(b, "POST", sandbox["links"]["stop"])
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
        assert status == 200 and stopped["status"] == "stopped"
        assert "did not answer" in stopped["message"]
        assert pid_gone(started["pid"], timeout=10), "the child did not exit"
