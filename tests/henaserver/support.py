"""What the henaserver tests share, as a plain module (import it; never import conftest).

- ``ServerProcess``: the REAL server, ``python -m henaserver --port 0 ...`` in a child
  process, as a user would run it (lesson 9 in STYLE.md; waitress's and daphne's
  functional tests do the same). It waits for the ``http://HOST:PORT/`` banner, shows the
  child's stderr if it does not come, and is stopped with SIGTERM, exit status 0. Its
  events arrive through a pipe (``--events-fd``, as the playground reads them), so a test
  waits for an event on a condition, never by polling or sleeping.
- ``run`` and ``assert_one_line_failure``: the command line run to completion.
- ``PortReservations`` (the ``reserve_ports`` fixture): distinct ports that stay free for
  the test.
- the tutorial's document root: its files, as bytes, for exact comparisons.

It lives beside ``rawhttp.py`` and ``corpus.py``: pytest puts this folder on ``sys.path``
(rootdir-relative "prepend" imports), so ``from support import ...`` works however the
test folders are ordered on the command line, which ``from conftest import ...`` did not
(several folders have a conftest.py and only one of them can be the module "conftest").
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
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
    the lines for assertions, handing them to a queue, and waking ``wait_for_text``."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[str] = []
        self.queue: queue.Queue[str | None] = queue.Queue()
        self._changed = threading.Condition()
        self._ended = False
        self.start()

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
            self.queue.put(line)
        with self._changed:
            self._ended = True
            self._changed.notify_all()
        self.queue.put(None)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for_text(self, text: str, timeout: float = 5.0) -> str:
        """The first line containing ``text``, waiting for it to arrive (no polling)."""
        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or self._ended, timeout)
            line = found()
        if line is None:
            pytest.fail(f"no line with {text!r} within {timeout}s: {self.lines}")
        return line


class EventReader(threading.Thread):
    """Reads the server's event pipe (``--events-fd``), as the playground does: keeps each
    event and wakes whoever waits for one, so tests wait on a condition, never a timer."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.stream = os.fdopen(fd, "rb")
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._ended = False
        self.start()

    def run(self) -> None:
        with self.stream:
            for line in self.stream:
                event = json.loads(line)
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], count: int,
                 timeout: float) -> list[dict[str, Any]]:
        """The events matching ``predicate`` once there are ``count`` of them (or at the
        timeout, or when the stream ends: then maybe fewer)."""
        def found() -> list[dict[str, Any]]:
            return [event for event in self.events if predicate(event)]

        with self._changed:
            self._changed.wait_for(lambda: len(found()) >= count or self._ended, timeout)
            return found()


class ServerProcess:
    """A running ``python -m henaserver`` and helpers to talk to it and read its events."""

    def __init__(self, args: list[str], root: Path, events: bool = True,
                 pass_fds: tuple[int, ...] = (), stdin: int | None = subprocess.DEVNULL,
                 wait: bool = True) -> None:
        self.root = root
        self.event_reader: EventReader | None = None
        write_end = None
        if events:  # --events-fd, read by a thread, like the playground's supervisor
            read_end, write_end = os.pipe()
            args = [*args, "--events-fd", str(write_end)]
            pass_fds = (*pass_fds, write_end)
        self.args = args
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "henaserver", *args], cwd=REPO, stdin=stdin,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            if write_end is not None:
                os.close(write_end)  # the child holds it now: its exit ends the stream
        if events:
            self.event_reader = EventReader(read_end)
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
                if self.event_reader is not None:
                    # The banner and the events travel on different pipes: wait for the
                    # first event too, so events()[0] is always `server.listening`.
                    self.wait_for(lambda e: e["type"] == "server.listening",
                                  "server.listening", timeout=STARTUP_TIMEOUT)
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
        """Every event received so far (all of them once ``stop`` has returned)."""
        assert self.event_reader is not None, "server started without events"
        return list(self.event_reader.events)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str,
                 timeout: float = 5.0, count: int = 1) -> list[dict[str, Any]]:
        """Wait until ``count`` events match."""
        assert self.event_reader is not None, "server started without events"
        found = self.event_reader.wait_for(predicate, count, timeout)
        if len(found) < count:
            pytest.fail(f"timed out waiting for {count} x {what}; have {len(found)}\n"
                        f"stderr:\n{self.stderr.text}")
        return found

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
        if self.event_reader is not None:
            self.event_reader.join(STOP_TIMEOUT)
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


def read_pipe_while(read_end: int, stop: Callable[[], object]) -> bytes:
    """Everything written to a pipe until its writers close it, read by a thread while
    ``stop()`` runs (a server stopping writes its last events only if they are read);
    the reading end is closed after."""
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(
        lambda: os.read(read_end, 65536), b"")), daemon=True)
    reader.start()
    stop()
    reader.join(STOP_TIMEOUT)
    os.close(read_end)
    return b"".join(chunks)


def launch(root: Path, *extra: str) -> ServerProcess:
    return ServerProcess(["--root", str(root), "--port", "0", *extra], root)


# --- the document root ---------------------------------------------------------------

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




# --- the command line run to completion -----------------------------------------------

def run(*args: str, timeout: float = 15, pass_fds: tuple[int, ...] = ()
        ) -> subprocess.CompletedProcess[str]:
    """``python -m henaserver ARGS`` to its end, output captured as text."""
    return subprocess.run([sys.executable, "-u", "-m", "henaserver", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, pass_fds=pass_fds)


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """A start-up failure: exit status 2 and one "henaserver: ..." line naming ``words``."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("henaserver: "), lines[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "http://" not in result.stdout


# --- ports ------------------------------------------------------------------------------

class PortReservations:
    """Distinct ports on 127.0.0.1 that no other program can take while a test runs.

    Each port is held by a socket that is bound but not listening, with SO_REUSEADDR:
    the kernel then gives that port to no one else (not to an OS-chosen port 0 either),
    yet Linux lets a server that also sets SO_REUSEADDR (henaserver does) bind it and
    listen. ``free_port + 1`` guessed instead, and was sometimes taken.
    """

    def __init__(self) -> None:
        self._holders: list[socket.socket] = []

    def take(self, count: int = 1) -> list[int]:
        ports = []
        for _ in range(count):
            holder = socket.socket()
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", 0))
            self._holders.append(holder)
            ports.append(holder.getsockname()[1])
        return ports

    def release(self) -> None:
        for holder in self._holders:
            holder.close()
        self._holders.clear()
