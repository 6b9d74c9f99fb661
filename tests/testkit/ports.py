"""Free ports for tests: distinct within the run, free when handed out.

The OS picks each one (bind to port 0), so it is free at that moment; a port is never
handed out twice in one test process, so two fixtures (or ``free_port + 1``, which
nothing checked) can no longer collide. It stays a hint, not a lock: the server under
test binds it a moment later, as a real server would.
"""

from __future__ import annotations

import socket
import threading

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that nothing listens on now and no test got before."""
    found: list[int] = []
    held: list[socket.socket] = []
    try:
        with _lock:
            while len(found) < count:
                sock = socket.socket()
                held.append(sock)  # held open until all are found: the OS gives distinct ones
                sock.bind((host, 0))
                port = sock.getsockname()[1]
                if port not in _handed_out:
                    _handed_out.add(port)
                    found.append(port)
    finally:
        for sock in held:
            sock.close()
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """One port, as ``free_ports``."""
    return free_ports(1, host)[0]


def listens(port: int) -> bool:
    """The port is in LISTEN state (/proc/net/tcp): a probe connection would be one
    request too many for a server that answers only once."""
    hex_port = f":{port:04X}"
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(hex_port) and fields[3] == "0A":
                    return True
    return False
