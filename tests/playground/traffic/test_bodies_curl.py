""""Copy as curl" keeps the recorded bytes: the command is run by a real bash and a real
curl against a raw listener, and what arrives is compared byte for byte. Bytes that are
not UTF-8 (0xff 0xfe) used to arrive re-encoded as UTF-8 (0xc3 0xbf 0xc3 0xbe), and a
non-ASCII target percent-encoded by curl."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading

import pytest
from testkit.services import unavailable

from playground.traffic import exports

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _head_curl_sends(command: str, port: int) -> bytes:
    """Run ``command`` in bash; return the request head that reached 127.0.0.1:port."""
    got: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(20)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(20)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            got.append(data)
            conn.sendall(OK)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        done = subprocess.run(["bash", "-c", command], capture_output=True, timeout=30)
    finally:
        thread.join(25)
        listener.close()
    assert done.returncode == 0, done.stderr
    assert got, "curl sent nothing"
    return got[0].split(b"\r\n\r\n")[0]


@pytest.fixture
def tools() -> None:
    for tool, package in (("bash", "bash"), ("curl", "curl")):
        if not shutil.which(tool):
            unavailable(tool, f"apt-get install {package}")


@pytest.mark.parametrize("request_line, header", [
    (b"GET /a\xff\xfe HTTP/1.1", b"X-Bytes: \xff\xfe"),            # not UTF-8
    (b"GET /caf\xc3\xa9?q=\xc3\xa9 HTTP/1.1", b"X-Name: caf\xc3\xa9"),  # UTF-8 é
    (b"GET /a b#c[1-2] HTTP/1.1", b"X-Plain: a"),                   # a space, #, a glob
    (b"G\xffT / HTTP/1.1", b"X-Method: odd"),                        # an odd method
])
def test_curl_sends_the_recorded_bytes(tools, free_port, request_line, header):
    recorded = request_line + b"\r\nHost: 127.0.0.1:%d\r\n" % free_port + header + b"\r\n\r\n"
    command = exports.curl(recorded, f"http://127.0.0.1:{free_port}/")
    sent = _head_curl_sends(command, free_port).split(b"\r\n")
    assert sent[0] == request_line
    assert header in sent
