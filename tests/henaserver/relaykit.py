"""What the relay tests share: the REAL relay (``python -m henaserver relay``) in a
child process, and small hand-written bad servers (a thread with a raw socket each)
that make exactly one of the mistakes the relay must name."""

from __future__ import annotations

import base64
import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support import ServerProcess

DATE = re.compile(rb"\r\nDate: [^\r\n]*")


def start_relay(to: str, *extra: str) -> ServerProcess:
    """A relay on a port the OS chooses, forwarding to ``to`` (HOST:PORT), with events."""
    return ServerProcess(["relay", "--listen", "127.0.0.1:0", "--to", to, *extra],
                         Path("."))


def undated(data: bytes) -> bytes:
    """Response bytes without their Date lines, the one field allowed to differ between
    two servers answering a second apart."""
    return DATE.sub(b"", data)


def decoded(event: dict[str, Any], key: str) -> bytes:
    return base64.b64decode(event[f"{key}_b64"])


class BadServer(threading.Thread):
    """Accepts connections one after another; for each, reads the request head and
    calls ``script(sock, received)``, which sends what this bad server sends. The socket is
    closed after the script unless it keeps it (``hold``: until the test ends)."""

    def __init__(self, script: Callable[[socket.socket, bytes], None], *, hold: bool = False
                 ) -> None:
        super().__init__(daemon=True)
        self.script, self.hold = script, hold
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.requests: list[bytes] = []
        self.start()

    def run(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # closed by stop()
            received = b""
            while b"\r\n\r\n" not in received:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
            self.requests.append(received)
            self.script(sock, received)
            if self.hold:
                self.held.append(sock)
            else:
                sock.close()

    def stop(self) -> None:
        # close() alone does not wake a thread blocked in accept() on Linux; shutdown does.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for sock in self.held:
            sock.close()
        self.join(5)
