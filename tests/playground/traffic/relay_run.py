"""A REAL capture relay (``python -m henaserver relay``) in front of a small
hand-written learner's server that makes mistakes, for the traffic tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

from testkit.eventfile import read_events
from testkit.waiting import wait_until

REPO = Path(__file__).resolve().parents[3]
BARE_LF = b"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nhi"
SHORT = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
NOT_HTTP = b"\x16\x03\x01\x00\x05hello\r\n\r\n"  # a TLS-like start: no request line
AFTER = b"\x00more bytes after it\xff"


class Mistaken(threading.Thread):
    """A learner's server, by hand: /barelf answers with bare LFs, /short closes before
    its body is whole, /silent never answers; anything else gets 200 "ok" (keep-alive)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.start()

    def run(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(sock,), daemon=True).start()

    def serve(self, sock: socket.socket) -> None:
        self.held.append(sock)
        buffer = b""
        try:
            while data := sock.recv(65536):
                buffer += data
                while b"\r\n\r\n" in buffer:  # one request head (none has a body)
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    if b"/silent" in head:
                        continue
                    if b"/short" in head:
                        sock.sendall(SHORT)
                        sock.close()
                        return
                    sock.sendall(BARE_LF if b"/barelf" in head else OK)
            sock.close()  # the browser half-closed: so does this server
        except OSError:
            pass

    def stop(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for sock in self.held:
            sock.close()


class RelayRun:
    """The real relay on ``port`` (0: the OS chooses) in front of a Mistaken server,
    its events in a file."""

    def __init__(self, tmp: Path, port: int = 0) -> None:
        self.server = Mistaken()
        self.events_path = tmp / "relay-events.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "henaserver", "relay", "--listen",
             f"127.0.0.1:{port}", "--to", f"127.0.0.1:{self.server.port}", "--events",
             str(self.events_path), "--waiting-after", "0.1", "--response-timeout", "1"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()  # "... listening at http://H:P/ ..."
        self.port = int(line.split("http://")[1].split("/")[0].rsplit(":", 1)[1])

    def events(self) -> list[dict]:
        return read_events(self.events_path)

    def wait(self, kind: str, count: int) -> list[dict]:
        def found():
            events = self.events()
            return events if sum(e["type"] == kind for e in events) >= count else None
        return wait_until(found, 10, f"{count} {kind} events from the relay")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=10)
        self.server.stop()


def send(port: int, *parts: bytes, half_close: bool = True) -> bytes:
    """Send ``parts`` (each its own write), half-close, read to the end."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for part in parts:
            sock.sendall(part)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received
