"""henaserver out of file descriptors: CPU, log lines, and whether a normal client is
answered, while more idle sockets are open than ``--limit-files`` allows.

    .venv/bin/python bench/out_of_descriptors.py [--sockets 600] [--files 256]
        [--seconds 8] [--source DIR]

Starts a real henaserver with ``--limit-files``, opens ``--sockets`` idle connections,
then for ``--seconds`` sends one normal request a second (each on a new connection,
2 s to answer) and afterwards counts the server's CPU time (/proc/PID/stat) and its
stderr lines over the window. Then it closes the idle sockets and checks that a normal
request is answered 200 again within 10 s. ``--source DIR`` runs another checkout's
henaserver (before/after).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_of_one_request(port: int) -> str:
    """The status line's code, or "none" if nothing came within 2 s."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(REQUEST)
            return sock.recv(100)[9:12].decode() or "closed"
    except OSError:
        return "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=600)
    parser.add_argument("--files", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--source", type=Path, default=REPO)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        Path(root, "index.html").write_bytes(b"hello\n")
        env = {**os.environ, "PYTHONPATH": str(args.source), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "henaserver", "--root", root, "--host", HOST,
             "--port", "0", "--quiet", "--limit-files", str(args.files)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=env, cwd=args.source)
        assert proc.stdout is not None and proc.stderr is not None
        port = int(proc.stdout.readline().decode().split(f"{HOST}:")[1].split("/")[0])
        lines: list[float] = []  # when each stderr line arrived
        log_bytes = [0]

        def drain() -> None:  # a full pipe would block the server and hide a spin
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(time.monotonic())
                log_bytes[0] += len(line)

        threading.Thread(target=drain, daemon=True).start()
        idle = [socket.create_connection((HOST, port)) for _ in range(args.sockets)]
        start, cpu_start, lines_start = time.monotonic(), cpu_seconds(proc.pid), len(lines)
        statuses = []
        while time.monotonic() - start < args.seconds:
            statuses.append(status_of_one_request(port))
            time.sleep(max(0.0, 1 - (time.monotonic() - start) % 1))
        window = time.monotonic() - start
        cpu = cpu_seconds(proc.pid) - cpu_start
        logged = len(lines) - lines_start
        for sock in idle:
            sock.close()
        deadline, recovered = time.monotonic() + 10, None
        while time.monotonic() < deadline:
            if status_of_one_request(port) == "200":
                recovered = time.monotonic() - (deadline - 10)
                break
            time.sleep(0.1)
        proc.terminate()
        proc.wait(10)
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"source {args.source}: {args.sockets} idle sockets, --limit-files {args.files}, "
          f"{window:.1f} s: {cpu:.2f} CPU-seconds, {logged} log lines "
          f"({log_bytes[0]} bytes in all), normal requests {counts}, "
          + (f"answered 200 again {recovered:.1f} s after the idle sockets closed"
             if recovered is not None else "NOT answered within 10 s after they closed"))
    return 0 if recovered is not None and cpu < 1 and logged <= window + 2 else 1


if __name__ == "__main__":
    sys.exit(main())
