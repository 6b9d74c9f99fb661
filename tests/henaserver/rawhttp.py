"""A tiny HTTP/1.1 client over a raw socket, for byte-exact assertions.

``http.client`` hides what was on the wire (it reassembles, normalises and refuses odd
input); these tests need to send exact bytes and see exact bytes come back.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class RawResponse:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    head: bytes  # status line and fields, through the empty line
    body: bytes

    @property
    def raw(self) -> bytes:
        return self.head + self.body

    def header(self, name: str) -> str | None:
        """The first value of a field (case-insensitive), or None."""
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


def parse_head(head: bytes) -> tuple[str, int, str, list[tuple[str, str]]]:
    """Split a response head (ending with CRLF CRLF) into its parts, strictly."""
    assert head.endswith(b"\r\n\r\n"), head
    lines = head[:-4].split(b"\r\n")
    for line in lines:
        assert b"\n" not in line and b"\r" not in line, f"bare CR or LF in {head!r}"
    version, status, reason = lines[0].decode("latin-1").split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, colon, value = line.decode("latin-1").partition(":")
        assert colon and name == name.strip(), f"malformed field line {line!r}"
        headers.append((name, value.strip()))
    return version, int(status), reason, headers


def bodiless(status: int, method: str) -> bool:
    return method == "HEAD" or status < 200 or status in (204, 304)


class RawConnection:
    """One client connection: send bytes, read responses framed by Content-Length."""

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = bytearray()  # received, not yet consumed by a read_*
        self.received = bytearray()  # everything received, for exact comparisons
        self.sent = bytearray()
        host, port = self.sock.getsockname()[:2]
        # This end's ``ADDRESS:PORT``, as the server's events name the client.
        self.address = f"{host}:{port}"

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent += data

    def _fill(self) -> bool:
        """Receive once; False at end of stream."""
        data = self.sock.recv(65536)
        self.received += data
        self.buffer += data
        return bool(data)

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._fill():
                raise EOFError(f"connection closed before {marker!r}; got {bytes(self.buffer)!r}")
        end = self.buffer.index(marker) + len(marker)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    def read_exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not self._fill():
                raise EOFError(f"connection closed after {len(self.buffer)} of {count} bytes")
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def read_to_eof(self) -> bytes:
        while self._fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def read_response(self, method: str = "GET") -> RawResponse:
        """Read one response; the body is framed by Content-Length or by closing."""
        head = self.read_until(b"\r\n\r\n")
        version, status, reason, headers = parse_head(head)
        response = RawResponse(version, status, reason, headers, head, b"")
        if bodiless(status, method):
            return response
        length = response.header("content-length")
        assert response.header("transfer-encoding") is None, "unexpected chunked response"
        body = self.read_to_eof() if length is None else self.read_exact(int(length))
        return RawResponse(version, status, reason, headers, head, body)

    def request(self, data: bytes, method: str = "GET") -> RawResponse:
        self.send(data)
        return self.read_response(method)

    def closed_by_server(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Wait for the server to close; return what arrived first (expected: b"").
        Raises TimeoutError if the connection is still open after ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            return self.read_to_eof()
        except ConnectionResetError:
            data = bytes(self.buffer)
            self.buffer.clear()
            return data

    def unsolicited(self, timeout: float = 0.5) -> bytes:
        """Bytes that arrive within ``timeout`` without being asked for (b"" if none or
        if the server closes): a check that nothing more was sent."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            data = b""
        finally:
            self.sock.settimeout(DEFAULT_TIMEOUT)
        self.received += data
        return bytes(self.buffer) + data

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get(path: str, *, host: str = "test.local", extra: str = "", version: str = "HTTP/1.1",
        method: str = "GET") -> bytes:
    """A well-formed request as bytes; ``extra`` is more header lines, CRLF-terminated."""
    return f"{method} {path} {version}\r\nHost: {host}\r\n{extra}\r\n".encode("latin-1")
