"""Fixtures that run the REAL server: ``python -m henaserver --port 0 ...`` in a child
process, as a user would (lesson 9 in STYLE.md; waitress's and daphne's functional tests
do the same). The fixture waits for the ``http://HOST:PORT/`` banner, shows the child's
stderr if it does not come, and stops the child with SIGTERM, asserting exit status 0.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from rawhttp import RawConnection

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
BANNER = re.compile(r"http://(\[[0-9a-fA-F:.]+\]|[^\s/:]+):(\d+)/")
OUTSIDE_SECRET = b"HENASERVER-OUTSIDE-SECRET root:x:0:0:root:/root:/bin/bash\n"
BIG_SIZE = 5 * 1024 * 1024


class Pump(threading.Thread):
    """Drains one output pipe of the child (so it never blocks on a full pipe), keeping
    the lines for assertions and handing them to a queue for waiting on."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.start()

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            self.queue.put(line)
        self.queue.put(None)

    @property
    def text(self) -> str:
        return "".join(self.lines)


class ServerProcess:
    """A running ``python -m henaserver`` and helpers to talk to it and read its events."""

    def __init__(self, args: list[str], root: Path, events: Path | None,
                 pass_fds: tuple[int, ...] = (), stdin: int | None = subprocess.DEVNULL,
                 wait: bool = True) -> None:
        self.args = args
        self.root = root
        self.events_path = events
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "henaserver", *args], cwd=REPO, stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.stdout = Pump(self.proc.stdout)  # type: ignore[arg-type]
        self.stderr = Pump(self.proc.stderr)  # type: ignore[arg-type]
        self.host = ""
        self.port = 0
        self.banner = ""
        self.returncode: int | None = None
        if wait:
            self._wait_for_banner()

    def _wait_for_banner(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                line = self.stdout.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                pytest.fail(f"no http://HOST:PORT/ line within {STARTUP_TIMEOUT}s\n"
                            f"stdout:\n{self.stdout.text}\nstderr:\n{self.stderr.text}")
            if line is None:
                self.proc.wait(STOP_TIMEOUT)
                self.stderr.join(STOP_TIMEOUT)
                pytest.fail(f"server exited with {self.proc.returncode} before listening\n"
                            f"stderr:\n{self.stderr.text}")
            match = BANNER.search(line)
            if match:
                self.banner = line
                self.host = match[1].strip("[]")
                self.port = int(match[2])
                return

    # --- talking to it ------------------------------------------------------------

    def raw(self, timeout: float = 5.0) -> RawConnection:
        return RawConnection(self.host, self.port, timeout)

    def http(self, timeout: float = 5.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def fetch(self, path: str, method: str = "GET", headers: dict[str, str] | None = None
              ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on a fresh http.client connection: (response, body)."""
        conn = self.http()
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()

    # --- its events ---------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """Every complete event line written so far."""
        assert self.events_path is not None, "server started without --events"
        if not self.events_path.exists():
            return []
        data = self.events_path.read_bytes()
        return [json.loads(line) for line in data.split(b"\n")[:-1]]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str,
                 timeout: float = 5.0, count: int = 1) -> list[dict[str, Any]]:
        """Wait until ``count`` events match. Events are written by a background thread to
        a file, which offers no blocking read, so this polls with a deadline."""
        deadline = time.monotonic() + timeout
        while True:
            found = [event for event in self.events() if predicate(event)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {count} x {what}; have {len(found)}\n"
                            f"stderr:\n{self.stderr.text}")
            time.sleep(0.02)

    def exchanges(self, client: str, count: int = 1, timeout: float = 5.0
                  ) -> list[dict[str, Any]]:
        """The exchange events of one client connection (by its ``ADDRESS:PORT``)."""
        found = self.wait_for(lambda e: e["type"] == "exchange" and e["client"] == client,
                              f"exchange events from {client}", timeout, count)
        return sorted(found, key=lambda e: e["index"])

    def connection_event(self, kind: str, client: str, timeout: float = 5.0
                         ) -> dict[str, Any]:
        """The connection.open or connection.close event of one client connection."""
        opened = self.wait_for(lambda e: e["type"] == "connection.open" and
                               e["client"] == client, f"connection.open of {client}",
                               timeout)[0]
        if kind == "open":
            return opened
        return self.wait_for(lambda e: e["type"] == "connection.close" and
                             e["conn"] == opened["conn"], f"connection.close of {client}",
                             timeout)[0]

    # --- stopping -----------------------------------------------------------------

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` and wait for the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"server did not exit within {timeout}s of signal {sig}\n"
                        f"stderr:\n{self.stderr.text}")
        self.stdout.join(STOP_TIMEOUT)
        self.stderr.join(STOP_TIMEOUT)
        return self.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)

    def finish(self) -> None:
        """Teardown: stop with SIGTERM unless already stopped; it must exit 0 and must
        not have logged a traceback (an exception nobody asked for is a bug)."""
        if self.returncode is None:
            code = self.stop()
            assert code == 0, f"exit status {code} after SIGTERM\nstderr:\n{self.stderr.text}"
        assert "Traceback" not in self.stderr.text, self.stderr.text


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with extra options: ``start_server(root, "--body-cap", "10")``.
    Each gets ``--port 0`` and, unless ``events=False``, ``--events FILE``."""
    started: list[ServerProcess] = []

    def start(root: Path, *extra: str, events: bool = True, **kwargs: Any) -> ServerProcess:
        path = tmp_path / f"events-{len(started)}.jsonl" if events else None
        args = ["--root", str(root), "--port", "0", *extra]
        if path is not None:
            args += ["--events", str(path)]
        server = ServerProcess(args, root, path, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.finish()


def launch(root: Path, tmp: Path, *extra: str) -> ServerProcess:
    events = tmp / "events.jsonl"
    return ServerProcess(["--root", str(root), "--port", "0", "--events", str(events),
                          *extra], root, events)


@pytest.fixture(scope="module")
def server(docroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server over the tutorial docroot, shared by a test module."""
    process = launch(docroot, tmp_path_factory.mktemp("server"))
    yield process
    process.finish()


# --- the document root ----------------------------------------------------------------

def png(width: int, height: int) -> bytes:
    """A real PNG (RGB, one IDAT), built with zlib and struct."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"".join(bytes((x * 16 % 256, y * 16 % 256, 160))
                                        for x in range(width))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


INDEX_HTML = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>My first page</title>
<link rel="stylesheet" href="index.css">
</head>
<body>
<h1>Hello from HenaServer</h1>
<img src="logo.png" alt="logo" width="16" height="16">
</body>
</html>
"""
INDEX_CSS = b"h1 {\n  color: rebeccapurple;\n  font-family: system-ui, sans-serif;\n}\n"
UNICODE_NAME = "ファイル 1.txt"
UNICODE_TEXT = "こんにちは, HenaServer\n".encode()

# name -> (bytes, expected media type); text types must also say charset=utf-8.
TYPED_FILES = {
    "page.html": (b"<p>hi</p>", "text/html"),
    "app.js": (b"console.log(1)", "text/javascript"),
    "mod.mjs": (b"export default 1", "text/javascript"),
    "style.css": (b"p{}", "text/css"),
    "icon.svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    "prog.wasm": (b"\x00asm\x01\x00\x00\x00", "application/wasm"),
    "pic.webp": (b"RIFF\x00\x00\x00\x00WEBP", "image/webp"),
    "font.woff2": (b"wOF2", "font/woff2"),
    "data.json": (b'{"a": 1}', "application/json"),
    "notes.txt": (b"plain", "text/plain"),
    "img.png": (b"\x89PNG\r\n\x1a\n", "image/png"),
    "photo.jpg": (b"\xff\xd8\xff", "image/jpeg"),
    "blob.zzqx": (b"\x00\x01", "application/octet-stream"),
    "noextension": (b"\x00\x01", "application/octet-stream"),
    "UPPER.CSS": (b"p{}", "text/css"),
}


@pytest.fixture(scope="session")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside the root holding a secret that must never be served."""
    path = tmp_path_factory.mktemp("outside")
    (path / "passwd").write_bytes(OUTSIDE_SECRET)
    (path / "secret.txt").write_bytes(OUTSIDE_SECRET)
    return path


@pytest.fixture(scope="session")
def docroot(tmp_path_factory: pytest.TempPathFactory, outside: Path) -> Path:
    """The tutorial's page plus the files the tests need."""
    root = tmp_path_factory.mktemp("docroot")
    (root / "index.html").write_bytes(INDEX_HTML)
    (root / "index.css").write_bytes(INDEX_CSS)
    (root / "logo.png").write_bytes(png(16, 16))
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<!DOCTYPE html><h1>sub index</h1>\n")
    (root / "sub" / "page.txt").write_bytes(b"a page in sub\n")
    (root / "noindex").mkdir()
    (root / "noindex" / "hidden-name.txt").write_bytes(b"listed nowhere\n")
    (root / "ディレクトリ").mkdir()
    (root / "ディレクトリ" / "index.html").write_bytes(b"<h1>unicode dir</h1>\n")
    (root / UNICODE_NAME).write_bytes(UNICODE_TEXT)
    (root / "big.bin").write_bytes(random.Random(5).randbytes(BIG_SIZE))
    (root / "types").mkdir()
    for name, (content, _kind) in TYPED_FILES.items():
        (root / "types" / name).write_bytes(content)
    (root / "link-out.txt").symlink_to(outside / "secret.txt")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "link-in.css").symlink_to(root / "index.css")
    (root / "mutable").mkdir()
    return root
