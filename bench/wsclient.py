"""A minimal RFC 6455 websocket client on the standard library, for the benchmarks only
(the `websockets` package is not a dependency). Text frames, ping/pong, close; no
extensions. The server's frames are unmasked; ours are masked, as the RFC requires."""

from __future__ import annotations

import base64
import os
import socket
import struct


class WebSocket:
    """``WebSocket(host, port, path, headers)``: connects and completes the handshake."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.reader = self.sock.makefile("rb")
        # The server's close code (1000 normal, 1011 server error), once it closed;
        # None while open, or if the connection just ended without a close frame.
        self.close_code: int | None = None
        status = self.reader.readline()
        if b" 101 " not in status:
            raise ConnectionError(f"handshake refused: {status!r}")
        while self.reader.readline() not in (b"\r\n", b""):
            pass

    def _read_frame(self) -> tuple[int, bytes]:
        head = self.reader.read(2)
        if len(head) < 2:
            raise EOFError
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.reader.read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self.reader.read(8))[0]
        return opcode, self.reader.read(length)

    def recv(self) -> str | None:
        """The next text message, or None when the server closed."""
        parts: list[bytes] = []
        while True:
            try:
                opcode, payload = self._read_frame()
            except (EOFError, OSError):
                return None
            if opcode == 0x8:
                if len(payload) >= 2:
                    self.close_code = struct.unpack("!H", payload[:2])[0]
                return None
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode in (0x1, 0x2, 0x0):
                parts.append(payload)
                # FIN is not tracked separately: daphne sends each message in one frame.
                return b"".join(parts).decode()

    def send(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _send(self, opcode: int, data: bytes) -> None:
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        try:
            self._send(0x8, b"\x03\xe8")
        except OSError:
            pass
        self.sock.close()
