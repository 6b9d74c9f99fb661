"""The playground run for real for the live-traffic benchmarks: `manage.py runserver
--noreload` (daphne, one process, so /proc/<pid> is the site) with its own database and
data directory, a browser-like API session, and a websocket viewer of one sandbox
(``Viewer``: also used by tests/playground/traffic/test_live_over_redis.py)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wsclient import WebSocket

REPO = Path(__file__).resolve().parents[1]
# Debian's Chromium as the browser tests launch it (../shared/NOTES.md: the background
# flags keep it from flooding this closed network with refused connections).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def launch_chromium(playwright: Any) -> Any:
    """Chromium from Playwright's sync API, launched as above."""
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call_api(opener: urllib.request.OpenerDirector, jar: http.cookiejar.CookieJar, url: str,
             method: str, data=None, timeout: float = 30):
    """A JSON API call as the site's own pages make it (the CSRF token from the cookie)."""
    token = next((c.value for c in jar if c.name == "csrftoken"), "")
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers={
        "X-CSRFToken": token, "Content-Type": "application/json"})
    with opener.open(req, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


class Playground:
    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"  # the canonical host (canonical.py)
        self.log_path = tmp / "runserver.log"
        self.env = dict(os.environ, PLAYGROUND_DB=str(tmp / "db.sqlite3"),
                        PLAYGROUND_DATA_DIR=str(tmp / "data"), PYTHONUNBUFFERED="1",
                        **(env or {}))
        py = sys.executable
        subprocess.run([py, "manage.py", "migrate", "--noinput"], cwd=REPO, env=self.env,
                       check=True, capture_output=True)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [py, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=REPO, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        deadline = time.monotonic() + 30
        while True:
            try:
                self.opener.open(self.base + "/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(self.log_path.read_text()) from None
                time.sleep(0.2)

    def call(self, method: str, path: str, data=None):
        return call_api(self.opener, self.jar, self.base + path, method, data)

    def sandbox(self) -> dict:
        """A running sandbox with the starter site."""
        port = self.call("GET", "/api/sandboxes/?suggest=1")["suggested_port"]
        sb = self.call("POST", "/api/sandboxes/", {"name": "bench", "port": port})
        self.call("POST", sb["links"]["starter"], {})
        return self.call("POST", sb["links"]["start"])

    def traffic_page(self, chromium: Any, sb: dict, width: int = 1200) -> Any:
        """The sandbox's traffic page in a new browser context holding this session's
        cookies (the sandbox's owner), once its live feed is connected."""
        context = chromium.new_context(viewport={"width": width, "height": 900})
        context.add_cookies([{"name": c.name, "value": c.value, "domain": "127.0.0.1",
                              "path": "/"} for c in self.jar])
        page = context.new_page()
        page.goto(self.base + sb["links"]["traffic"])
        page.locator("#conn-state[data-state=live]").wait_for(timeout=15_000)
        return page

    def websocket(self, sandbox_id: int, after: int = 0) -> WebSocket:
        session = next(c.value for c in self.jar if c.name == "sessionid")
        return WebSocket("127.0.0.1", self.port, f"/ws/sandboxes/{sandbox_id}/?after={after}",
                         {"Origin": self.base, "Cookie": f"sessionid={session}"})

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


class Viewer:
    """A websocket viewer of one sandbox's traffic (``ws``: its open WebSocket), read by a
    thread: when each target's row arrived, the status messages, and whether (``closed``)
    and how (``ws.close_code``) the server closed it."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.ws.sock.settimeout(None)
        self.arrived: dict[str, float] = {}  # target -> time.perf_counter() on arrival
        self.statuses: list[dict] = []
        self.closed = threading.Event()
        self.opened_at = time.perf_counter()
        self.closed_at: float | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while (text := self.ws.recv()) is not None:
            now = time.perf_counter()
            message = json.loads(text)
            if message.get("type") == "exchanges":
                for item in message["items"]:
                    self.arrived.setdefault(item["target"], now)
            elif message.get("type") == "status":
                self.statuses.append(message)
        self.closed_at = time.perf_counter()
        self.closed.set()

    def has(self, targets: Iterable[str]) -> bool:
        return all(t in self.arrived for t in targets)

    def wait_for(self, targets: Iterable[str], timeout: float = 10.0) -> bool:
        """True once every target's row arrived; False at ``timeout`` or a close."""
        targets = list(targets)
        deadline = time.monotonic() + timeout
        while not self.has(targets):
            if self.closed.is_set() or time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        self.ws.close()
