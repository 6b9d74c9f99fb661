"""Fixtures for the playground's tests: a private data directory per test, a port range
that covers the OS's free ports, and no sandbox process left behind between tests."""

import io
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from channels.layers import channel_layers
from django.test import Client
from testkit.eventfile import read_events
from testkit.waiting import wait_until

from playground.sandboxes import runtime

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def playground_settings(settings, tmp_path):
    settings.PLAYGROUND_DATA_DIR = tmp_path / "data"
    # The test client talks to "testserver:80"; ports come from the OS's free ones.
    settings.PLAYGROUND_PORT_RANGE = (1024, 65535)
    settings.PLAYGROUND_MAX_FILE_BYTES = 1000
    settings.PLAYGROUND_MAX_SANDBOX_BYTES = 3000
    settings.PLAYGROUND_MAX_FILES = 5
    settings.PLAYGROUND_MAX_REQUEST_BYTES = 3000 + 64 * 1024
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 5
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000 + 1024
    yield settings
    runtime.stop_all()


@pytest.fixture
def fresh_layer():
    """A new in-memory channel layer for the test: its queues belong to the event loop
    that first used them, and each async test runs its own loop."""
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture
def other_client() -> Client:
    """A second browser: its own session, so it must not see the first one's sandboxes."""
    return Client()


def _make_zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)  # S_IFLNK | 0777, as `zip -y` writes it
            archive.writestr(info, target)
    return buffer.getvalue()


@pytest.fixture
def make_zip():
    return _make_zip


@pytest.fixture
def raw_send():
    """send(port, data): the whole answer to ``data`` sent on a fresh connection (our
    side half-closed after sending, so the server's answer ends the read)."""
    def send(port: int, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(5)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        return received
    return send


def _exchange(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return received


@pytest.fixture(scope="session")
def real_events(tmp_path_factory):
    """Events of a real henaserver session: 2 keep-alive GETs, a 400, a hang-up."""
    tmp = tmp_path_factory.mktemp("henaserver")
    root = tmp / "root"
    root.mkdir()
    (root / "index.html").write_text("<h1>hi</h1>")
    (root / "index.css").write_text("h1 { color: red }")
    events = tmp / "events.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "henaserver", "--root", str(root), "--port", "0",
         "--events", str(events), "--quiet"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline().decode().rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            _exchange(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _exchange(sock, b"GET /index.css HTTP/1.1\r\nHost: x\r\nX-Odd: caf\xe9\r\n\r\n")
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            sock.settimeout(5)
            while sock.recv(65536):
                pass
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /half")  # then hang up: client_closed
        read: list[dict] = []

        def recorded() -> list[dict] | None:
            read[:] = read_events(events)
            kinds = [e["type"] for e in read]
            if kinds.count("exchange") >= 4 and kinds[-1] == "server.stats" \
                    and read[-1]["exchanges"] >= 4:
                return list(read)
            return None

        return wait_until(recorded, 10, "henaserver to record 4 exchanges", interval=0.1,
                          explain=lambda: f"recorded: {[e['type'] for e in read]}")
    finally:
        proc.terminate()
        proc.wait(5)
