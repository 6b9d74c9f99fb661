"""The playground run for real for the live-traffic benchmarks: `manage.py runserver
--noreload` (daphne, one process, so /proc/<pid> is the site) with its own database and
data directory, a browser-like API session, and a websocket viewer of one sandbox."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from wsclient import WebSocket

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Playground:
    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
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
        token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method, headers={
            "X-CSRFToken": token, "Content-Type": "application/json"})
        with self.opener.open(req, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def sandbox(self) -> dict:
        """A running sandbox with the starter site."""
        port = self.call("GET", "/api/sandboxes/?suggest=1")["suggested_port"]
        sb = self.call("POST", "/api/sandboxes/", {"name": "bench", "port": port})
        self.call("POST", sb["links"]["starter"], {})
        return self.call("POST", sb["links"]["start"])

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
