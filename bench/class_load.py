"""The people of bench/class_bench.py: a student's logged-in API session (``Account``),
a browser reloading a page of three files (``reload_page``), and the teacher's board
websocket (``Board``), each noting time.perf_counter() / time.time() where the bench
measures a latency."""

from __future__ import annotations

import http.cookiejar
import json
import socket
import threading
import time
import urllib.request

from playground_proc import call_api
from wsclient import WebSocket

# The page a student reloads: the starter site's three files (henaserver's starter, and
# the "static" program starter's static/ folder hold the same names).
PAGE = ("/index.html", "/index.css", "/logo.png")


class Account:
    """One user's browser-like API session on the playground at ``base``."""

    def __init__(self, base: str, session: str) -> None:
        self.base, self.session = base, session
        self.jar = http.cookiejar.CookieJar()
        host = base.split("//")[1].split(":")[0]
        self.jar.set_cookie(http.cookiejar.Cookie(
            0, "sessionid", session, None, False, host, False, False, "/", True, False,
            None, False, None, None, {}))
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(base + "/", timeout=60).read()  # the csrftoken cookie

    def call(self, method: str, path: str, data=None):
        return call_api(self.opener, self.jar, self.base + path, method, data, timeout=120)

    def websocket(self, path: str) -> WebSocket:
        host, port = self.base.split("//")[1].split(":")
        return WebSocket(host, int(port), path,
                         {"Origin": self.base, "Cookie": f"sessionid={self.session}"})


def _read_response(sock: socket.socket) -> tuple[int, bool]:
    """(status, whether the server closes the connection after it)."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response's head")
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").lower().split("\r\n")
    length = next((int(line.split(":")[1]) for line in lines
                   if line.startswith("content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), any(line == "connection: close" for line in lines)


def reload_page(port: int, tag: str, sent: dict[str, float],
                answered: dict[str, float]) -> int:
    """GET the page's three files one after the other as a browser does on one
    keep-alive connection (a new one when the server closes it: the "static" starter
    does after every answer); notes each target's send time in ``sent`` and the time
    its answer was read in ``answered`` (perf_counter()). Returns how
    many answers were not 200."""
    failures, sock = 0, None
    try:
        for name in PAGE:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = f"{name}?r={tag}"
            sent[target] = time.perf_counter()
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            status, closes = _read_response(sock)
            answered[target] = time.perf_counter()
            failures += status != 200
            if closes:
                sock.close()
                sock = None
    except OSError:
        failures += 1
    finally:
        if sock is not None:
            sock.close()
    return failures


class Board:
    """The teacher's board websocket (ws/classes/<id>/), read by a thread: every row
    message with its arrival time (time.time(), to compare with the server's ISO times
    and the bench's own clock). ``error`` says why it could not open (no board on this
    branch: the handshake is refused)."""

    def __init__(self, teacher: Account, class_id: int) -> None:
        self.rows: list[tuple[float, dict]] = []  # (arrival, ROW)
        self.boards = 0
        self.error: str | None = None
        self.lock = threading.Lock()
        try:
            self.ws = teacher.websocket(f"/ws/classes/{class_id}/")
        except (OSError, ConnectionError) as exc:
            self.error = str(exc)
            return
        self.ws.sock.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while (text := self.ws.recv()) is not None:
            now, message = time.time(), json.loads(text)
            with self.lock:
                if message.get("type") == "student":
                    self.rows.append((now, message["student"]))
                elif message.get("type") == "board":
                    self.boards += 1
                    self.rows.extend((now, row) for row in message.get("students", []))

    def first(self, user: int, after: float, test) -> float | None:
        """When the first row of ``user`` arriving after ``after`` passed ``test``."""
        with self.lock:
            return next((at for at, row in self.rows
                         if row.get("id") == user and at >= after and test(row)), None)

    def wait_first(self, user: int, after: float, test, timeout: float) -> float | None:
        """``first``, waiting up to ``timeout`` seconds for such a row to arrive."""
        deadline = time.monotonic() + timeout
        while (at := self.first(user, after, test)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return at

    def close(self) -> None:
        if self.error is None:
            self.ws.close()
