"""Scale-out on Channels' real engine: a real redis-server, two real daphne processes
sharing one database and data directory, as docs/deploy.md runs them behind nginx.

* A viewer connected to process B receives, live, the traffic of a sandbox that
  process A started (the ingest writer sends through the channel layer only).
* Process B starting up does not mark A's running sandbox stopped (reconcile).
* Stop works from either process: B asks A over the control group (control.py), and
  after B started the sandbox itself, A asks B.

Without redis-server the test is skipped with the reason, except on CI (CI=true), where
it fails: .ci/run installs redis-server, so a green CI run means this ran.
"""

import http.cookiejar
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bench"))
from testkit.waiting import wait_until  # noqa: E402
from wsclient import WebSocket  # noqa: E402  (bench's stdlib websocket client)

REDIS = "/usr/bin/redis-server"


def _log_of(log: Path | None) -> str:
    return log.read_text(errors="replace") if log else ""


def _answering(check, proc: subprocess.Popen, what: str, log: Path | None = None):
    """``check`` as a wait_until condition for a server process: a refused connection
    (OSError) means "not yet", and the process having exited fails at once."""
    def condition():
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited:\n{_log_of(log)}")
        try:
            return check()
        except OSError:
            return None
    return condition


@pytest.fixture
def redis_url(tmp_path, free_ports):
    binary = REDIS if os.path.exists(REDIS) else shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the scale-out test cannot run on CI: {reason}")
        pytest.skip(reason)
    try:
        import channels_redis  # noqa: F401
    except ImportError:
        pytest.fail("channels-redis is not installed: pip install -e '.[test]'")
    (port,) = free_ports(1)
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pong() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(100).startswith(b"+PONG")

    try:
        what = "redis-server answering PING"
        wait_until(_answering(pong, proc, what), 10, what, interval=0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


class Daphne:
    """One playground process: `python -m daphne` on its own port."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"daphne-{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             "playground.asgi:application"], cwd=REPO, env=env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

        def up() -> bool:
            return urllib.request.urlopen(self.base + "/", timeout=2).status == 200

        what = f"daphne {name} answering"
        wait_until(_answering(up, self.proc, what, self.log), 30, what, interval=0.1,
                   explain=lambda: _log_of(self.log))

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Browser:
    """One browser: one cookie jar, used against either process (same host name, and
    cookies ignore ports; both processes share SECRET_KEY and the session table)."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)

    def call(self, site: Daphne, method: str, path: str, data=None):
        if not any(c.name == "csrftoken" for c in self.jar):
            self.opener.open(site.base + "/", timeout=10).read()
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(site.base + path, data=body, method=method, headers={
            "X-CSRFToken": self.cookie("csrftoken"), "Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def websocket(self, site: Daphne, sandbox_id: int) -> WebSocket:
        ws = WebSocket("127.0.0.1", site.port, f"/ws/sandboxes/{sandbox_id}/", {
            "Origin": site.base,
            "Cookie": f"sessionid={self.cookie('sessionid')}"})
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
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLAYGROUND_", "DJANGO_")) and k != "REDIS_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="playground.settings", PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1", REDIS_URL=redis_url,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        PLAYGROUND_DB=str(tmp_path / "db.sqlite3"), PLAYGROUND_DATA_DIR=str(tmp_path / "data"),
        PLAYGROUND_PORT_RANGE=f"{sandbox_port}-{sandbox_port}")
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    sites: list[Daphne] = []
    try:
        a = Daphne("A", env, tmp_path, port_a)
        sites.append(a)
        browser = Browser()
        status, sandbox = browser.call(a, "POST", "/api/sandboxes/",
                                       {"name": "shared", "port": sandbox_port})
        assert status == 201, sandbox
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
        ws = browser.websocket(b, sandbox["id"])
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
        ws = browser.websocket(a, sandbox["id"])
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
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLAYGROUND_", "DJANGO_")) and k != "REDIS_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="playground.settings", PYTHONPATH=str(REPO),
        REDIS_URL=redis_url, DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        PLAYGROUND_DB=str(tmp_path / "db.sqlite3"), PLAYGROUND_DATA_DIR=str(tmp_path / "data"),
        PLAYGROUND_PORT_RANGE=f"{sandbox_port}-{sandbox_port}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env,
                   check=True, capture_output=True, timeout=120)
    sites: list[Daphne] = []
    try:
        a = Daphne("A", env, tmp_path, port_a)
        b = Daphne("B", env, tmp_path, port_b)
        sites += [a, b]
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
    finally:
        for site in sites:
            site.close()
