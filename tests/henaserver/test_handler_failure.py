"""A handler that raises costs one response (a 500), never the server.

The server runs in this process on a real socket, with a handler that fails for one
path: the handler is the server's extension point, so a failing one is a fair test
subject, and everything else (parser, connection, loop, capture) is the real code.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from henaserver.capture import EventSink
from henaserver.http import Request
from henaserver.limits import DEFAULT_LIMITS
from henaserver.response import Response
from henaserver.server import Server


def handler(request: Request) -> Response:
    if request.head.target == "/boom":
        raise RuntimeError("the handler broke")
    return Response(200, [("Content-Length", "2")], b"ok")


class Captured(io.RawIOBase):
    """A writable byte stream the event writer thread can write to."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        self.data += chunk
        return len(chunk)


class Running:
    def __init__(self) -> None:
        self.stream = Captured()
        self.server = Server(handler, DEFAULT_LIMITS, sink=EventSink(self.stream, 1 << 20))
        self.server.bind("127.0.0.1", 0)
        self.port = self.server.address[1]
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()

    def stop(self) -> list[dict[str, object]]:
        """Stop the server, wait for it, and return every event it wrote."""
        self.server.stop("test over")
        self.thread.join(5)
        assert not self.thread.is_alive()
        return [json.loads(line) for line in bytes(self.stream.data).splitlines()]


@pytest.fixture
def running() -> Iterator[Running]:
    running = Running()
    yield running
    running.stop()


def exchange(port: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_failing_request_gets_500_and_the_server_keeps_serving(
        running: Running, caplog: pytest.LogCaptureFixture) -> None:
    port = running.port
    with caplog.at_level(logging.ERROR, logger="henaserver"):
        failed = exchange(port, "/boom")
    assert failed.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"Content-Length: " in failed and b"<h1>500 Internal Server Error</h1>" in failed
    # The traceback is logged, with the request that caused it.
    record = next(r for r in caplog.records if "GET /boom" in r.getMessage())
    assert record.exc_info is not None and "the handler broke" in str(record.exc_info[1])
    # The very next request on a new connection is served normally.
    assert exchange(port, "/fine").startswith(b"HTTP/1.1 200 OK\r\n")

    events = running.stop()
    statuses = [e["status"] for e in events if e["type"] == "exchange"]
    assert statuses == [500, 200]
