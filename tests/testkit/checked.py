"""Servers for the checks (playground/checking) to run against, all real: henaserver
as a subprocess in any mode, a starter run with the learner's Python as the playground
lays it out, and a scripted server (a real socket in a thread) that sends exactly the
bytes a test gives it, for the learner's mistakes no real server of ours makes.

Each returns a ``playground.checking.engine.Target``; ``Servers.close()`` stops them all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from playground.checking.engine import Target
from testkit.ports import free_port, listens
from testkit.services import unavailable
from testkit.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
PROGRAM_PYTHON = "/usr/bin/python3"


class Servers:
    """Start servers under ``base`` (a tmp_path); ``close()`` stops every one."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.processes: list[subprocess.Popen[bytes]] = []
        self.scripts: list[Scripted] = []

    def _wait(self, process: subprocess.Popen[bytes], port: int, what: str) -> None:
        def ready() -> bool:
            if process.poll() is not None:
                out = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"{what} exited: {out}")
            return listens(port)
        wait_until(ready, 15, f"{what} to listen on {port}")

    def henaserver(self, mode: str = "full", fixed: bytes | None = None) -> Target:
        """``python -m henaserver`` in ``mode`` over an empty folder."""
        folder = self.base / f"henaserver-{mode}-{len(self.processes)}"
        root = folder / "root"
        root.mkdir(parents=True)
        port = free_port()
        args = [sys.executable, "-m", "henaserver", "--root", str(root), "--host",
                "127.0.0.1", "--port", str(port), "--mode", mode, "--quiet",
                "--exit-on-stdin-eof"]
        if fixed is not None:
            (folder / "fixed.txt").write_bytes(fixed)
            args += ["--fixed-response", str(folder / "fixed.txt")]
        process = subprocess.Popen(args, cwd=REPO, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self._wait(process, port, f"henaserver --mode {mode}")
        return Target("127.0.0.1", port, str(root))

    def starter(self, starter_id: str, language: str = "en",
                edit: Callable[[str], str] | None = None) -> Target:
        """A starter as the playground lays it out and runs it (its source changed by
        ``edit`` first, as a learner would); the docroot follows the rule of
        docs/checks.md (``static/`` when the program has one)."""
        from playground.sandboxes import starters

        if not os.access(PROGRAM_PYTHON, os.X_OK):
            unavailable("the system Python", f"{PROGRAM_PYTHON} is what programs run with")
        folder = self.base / f"starter-{starter_id}-{language}-{len(self.processes)}"
        folder.mkdir(parents=True)
        source = starters.source(starter_id, language)
        (folder / "main.py").write_text(edit(source) if edit else source, "utf-8")
        for name, chunks in starters.files(starter_id):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"".join(chunks))
        port = free_port()
        env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "HOST": "127.0.0.1",
               "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        if starters.get(starter_id).with_henaserver:
            env["PYTHONPATH"] = str(REPO)
        process = subprocess.Popen(
            [PROGRAM_PYTHON, "main.py", str(port), "127.0.0.1"], cwd=folder, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self._wait(process, port, f"starter {starter_id}")
        docroot = folder / "static" if (folder / "static").is_dir() else folder
        return Target("127.0.0.1", port, str(docroot))

    def relay(self, behind: Target) -> Target:
        """The capture relay (``python -m henaserver relay``) in front of ``behind``, as
        a program sandbox has it: the checks then talk to the relay."""
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "henaserver", "relay", "--listen", f"127.0.0.1:{port}",
             "--to", f"{behind.host}:{behind.port}", "--exit-on-stdin-eof"], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        wait_until(lambda: process.poll() is None and listens(port), 15, "the relay")
        return Target("127.0.0.1", port, behind.docroot)

    def scripted(self, handler: Callable[[socket.socket, int], None]) -> Target:
        """A server calling ``handler(connection, number)`` for each connection (number
        0, 1, ...), each in a thread of its own; the connection is closed after."""
        server = Scripted(handler, self.base / f"scripted-{len(self.scripts)}")
        self.scripts.append(server)
        return server.target

    def close(self) -> None:
        for server in self.scripts:
            server.close()
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            for pipe in (process.stdout, process.stderr):
                if pipe:
                    pipe.close()
            if process.stdin:
                process.stdin.close()


class Scripted:
    """A real listening socket whose answers a test writes (see Servers.scripted)."""

    def __init__(self, handler: Callable[[socket.socket, int], None], docroot: Path) -> None:
        docroot.mkdir(parents=True)
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.target = Target("127.0.0.1", self.sock.getsockname()[1], str(docroot))
        self.peers: list[int] = []       # the client port of each connection, in order
        self.threads: list[threading.Thread] = []
        self._closed = False
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer[1])
            thread = threading.Thread(target=self._serve, args=(conn, len(self.peers) - 1),
                                      daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn:
            try:
                self.handler(conn, number)
            except OSError:
                pass  # the checker hung up: that is its right

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.sock.close()
        self._accepter.join(5)


def read_head(conn: socket.socket, limit: int = 65536) -> bytes:
    """What a careful server reads: until the empty line (or the end)."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
