"""The launcher: runs INSIDE a program sandbox (bwrap), as the sandbox's uid, and starts
the learner's program.

Standard library only, one file: it is bound read-only into the sandbox and run by the
system's Python there (docs/program-sandboxes.md). It

* ``compile()``s the main file first and reports a syntax error with its line
  (``program.syntax_error``), then runs the program anyway, so the learner's console
  shows Python's own traceback;
* watches its network namespace's ``/proc/net/tcp`` and ``tcp6``: the namespace is the
  program's alone, so every listening socket there is the program's. It reports
  ``program.listening`` (on PORT) or ``program.listens_elsewhere`` (on other ports);
* forwards a Unix socket (``--socket``, mode 0666: the relay outside runs as another
  uid) to the address the program listens on: bytes unchanged both ways, an EOF passed
  on as ``shutdown(SHUT_WR)``. One ``selectors`` loop, so the forwarding costs the
  sandbox's uid no threads (its process limit counts threads);
* reports ``program.exited {returncode}`` when the program ends, then exits too: bwrap's
  pid 1 follows and the kernel kills whatever is left in the pid namespace;
* ends everything at EOF on its stdin (a pipe from the playground, closed by the kernel
  however the playground dies): SIGTERM to the program's process group, a grace, exit.

Facts are JSON lines on ``--status-fd``. The launcher prints nothing on stdout or
stderr: they are the learner's console. It reads stdin with ``os.read`` and leaves with
``os._exit``: a thread blocked in ``sys.stdin.buffer.read()`` at exit made Python abort
("Fatal Python error: _enter_buffered_busy") on the learner's console.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

# Seconds between two looks at /proc/net/tcp while waiting for the program to listen.
POLL = 0.02
# Seconds the program gets to exit after SIGTERM (stdin EOF) before we exit anyway:
# the namespace, and everything in it, dies with us.
STOP_GRACE = 2.0
LISTEN = "0A"  # a socket's state in /proc/net/tcp: TCP_LISTEN
RECV_SIZE = 65536
# Bytes held for a side that does not read before we stop reading from the other.
MAX_BUFFER = 1 << 20
# Seconds we wait, after the program exited, for its last bytes to reach the relay (a
# program that answers and exits must be heard): usually milliseconds.
FLUSH_WAIT = 2.0
FORWARDERS: list[Forwarder] = []


class Status:
    """JSON lines on the status pipe, one write each (so lines never interleave)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def say(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, "time": round(time.time(), 6), **fields}) + "\n"
        with self.lock:
            try:
                os.write(self.fd, line.encode())
            except OSError:
                pass  # nobody reads any more: we are being stopped


def syntax_error(main: str) -> dict[str, Any] | None:
    """The main file's syntax error as {line, offset, message}, or None."""
    try:
        with open(main, "rb") as f:
            source = f.read()
        compile(source, main, "exec")
    except SyntaxError as error:
        return {"line": error.lineno, "offset": error.offset, "message": error.msg}
    except ValueError as error:
        # A NUL byte. Python 3.11 runs such a file up to the NUL without a word and
        # exits 0 (3.12 calls it a SyntaxError): say where it is, as a syntax error.
        at = source.find(b"\0")
        before = source[:at] if at >= 0 else b""
        line = before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")
        return {"line": before.count(b"\n") + 1, "offset": len(line) + 1,
                "message": str(error)}
    except OSError:
        return None  # no such file: Python says so on the console
    return None


def sockets_of(session: int) -> set[str]:
    """The socket inodes the processes of ``session`` hold (the program without bwrap
    shares the host's network: only its own sockets are its)."""
    inodes = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) != session:
                    continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                link = os.readlink(f"/proc/{entry}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return inodes


def listening(only: set[str] | None = None) -> dict[int, tuple[int, str]]:
    """{port: (family, address to connect to)} of every listening TCP socket here (with
    ``only``: of those sockets, by inode)."""
    found: dict[int, tuple[int, str]] = {}
    for name, family in (("/proc/net/tcp", socket.AF_INET),
                         ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == LISTEN and (only is None
                                                             or fields[9] in only):
                address, port = fields[1].rsplit(":", 1)
                found.setdefault(int(port, 16), (family, connect_address(family, address)))
    return found


def connect_address(family: int, hex_address: str) -> str:
    """Where to connect to reach a socket bound to ``hex_address`` (as /proc shows it:
    32-bit words in host byte order): a wildcard means the loopback address."""
    raw = b"".join(int(hex_address[i:i + 8], 16).to_bytes(4, sys.byteorder)
                   for i in range(0, len(hex_address), 8))
    text = socket.inet_ntop(family, raw)
    if text in ("0.0.0.0", "::"):
        return "127.0.0.1" if family == socket.AF_INET else "::1"
    return text


class Side:
    """One socket of a forwarded connection and the bytes waiting to be written to it."""

    def __init__(self, sock: socket.socket, connecting: bool = False) -> None:
        self.sock = sock
        self.out = bytearray()
        self.peer: Side = self
        self.eof = False  # it sent EOF: nothing more to read from it
        self.shut = False  # we passed its peer's EOF on to it
        self.connecting = connecting


class Forwarder:
    """Unix socket -> the program's TCP port, in one selectors loop."""

    def __init__(self, listener: socket.socket, family: int, address: str,
                 port: int) -> None:
        self.listener = listener
        self.target = (family, address, port)
        self.selector = selectors.DefaultSelector()
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ, None)
        self.programs: set[Side] = set()  # the program's side of each connection
        self.accepted = 0  # connections the relay made (one per browser connection)

    def flushed(self) -> bool:
        """Whether every connection's program side ended and all it sent was passed
        on (read from another thread: a snapshot is enough)."""
        return all(side.eof and side.peer.shut for side in list(self.programs))

    def run(self) -> None:
        while True:
            for key, events in self.selector.select():
                if key.data is None:
                    self.accept()
                else:
                    self.step(key.data, events)

    def accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        self.accepted += 1
        family, address, port = self.target
        program = socket.socket(family, socket.SOCK_STREAM)
        program.setblocking(False)
        client.setblocking(False)
        # Connecting without blocking: a program that never accepts fills its backlog,
        # and a blocking connect would then stall every other connection.
        if program.connect_ex((address, port)) not in (0, 115):  # 115: EINPROGRESS
            client.close()
            program.close()
            return
        program.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        a, b = Side(client), Side(program, connecting=True)
        a.peer, b.peer = b, a
        self.programs.add(b)
        self.want(a)
        self.want(b)

    def step(self, side: Side, events: int) -> None:
        try:
            if side.connecting:
                if side.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    return self.close(side)  # the program closed its socket meanwhile
                side.connecting = False
            if events & selectors.EVENT_READ and not side.eof:
                data = side.sock.recv(RECV_SIZE)
                if data:
                    side.peer.out += data
                else:
                    side.eof = True
            if events & selectors.EVENT_WRITE and side.out:
                del side.out[:side.sock.send(side.out)]
            for one in (side, side.peer):  # a peer's EOF, once its bytes are out
                if one.peer.eof and not one.out and not one.shut and not one.connecting:
                    one.shut = True
                    one.sock.shutdown(socket.SHUT_WR)
            if side.shut and side.peer.shut:
                return self.close(side)
            self.want(side)
            self.want(side.peer)
        except OSError:
            self.close(side)

    def want(self, side: Side) -> None:
        """Register what ``side`` waits for: to read (unless its peer's buffer is
        full), to write (while it has bytes to send, or to learn a connect's end)."""
        events = 0
        if not side.eof and not side.connecting and len(side.peer.out) < MAX_BUFFER:
            events |= selectors.EVENT_READ
        if side.out or side.connecting:
            events |= selectors.EVENT_WRITE
        if side.sock in self.selector.get_map():
            if events:
                self.selector.modify(side.sock, events, side)
            else:
                self.selector.unregister(side.sock)
        elif events:
            self.selector.register(side.sock, events, side)

    def close(self, side: Side) -> None:
        for one in (side, side.peer):
            self.programs.discard(one)
            if one.sock in self.selector.get_map():
                self.selector.unregister(one.sock)
            one.sock.close()


def unix_listener(fd: int | None, path: str | None) -> socket.socket:
    """The socket the relay connects to: given, already listening (``--socket-fd``:
    the playground's way), or bound here at ``path`` (mode 0666: the relay outside
    may run as another uid)."""
    if fd is not None:
        return socket.socket(fileno=fd)
    assert path is not None
    if os.path.lexists(path):
        os.unlink(path)  # an earlier run's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o666)
    listener.listen(128)
    return listener


def forward(status: Status, fd: int | None, path: str | None, port: int, family: int,
            address: str) -> None:
    try:
        listener = unix_listener(fd, path)
    except OSError as error:
        status.say("program.forward_failed", message=str(error))
        return
    forwarder = Forwarder(listener, family, address, port)
    FORWARDERS.append(forwarder)
    status.say("program.listening", port=port, address=address)
    forwarder.run()


def end_at_stdin_eof(program: subprocess.Popen[bytes]) -> None:
    while True:
        try:
            if not os.read(0, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    end(program)


def end(program: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the program's process group, a grace, then exit (under bwrap the
    namespace, and whatever is left in it, dies with us)."""
    try:
        os.killpg(program.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        program.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        pass
    os._exit(0)


def not_dumpable() -> None:
    """PR_SET_DUMPABLE 0: the program runs as our uid, and could otherwise open our
    status pipe through /proc/OUR_PID/fd (and write events in our name) or ptrace us.
    What it could still write is filtered by the supervisor (only ``program.*``)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass  # not Linux: nothing of this applies


def main(argv: list[str]) -> None:
    not_dumpable()
    parser = argparse.ArgumentParser(prog="launcher")
    parser.add_argument("--status-fd", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    way = parser.add_mutually_exclusive_group(required=True)
    way.add_argument("--socket-fd", type=int, help="a listening Unix socket to accept on")
    way.add_argument("--socket", help="where to bind the Unix socket")
    parser.add_argument("--main", required=True)
    parser.add_argument("--own-sockets", action="store_true",
                        help="count only the program's sockets (no network namespace)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    status = Status(args.status_fd)

    error = syntax_error(args.main)
    if error is not None:
        status.say("program.syntax_error", **error)
    program = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    threading.Thread(target=end_at_stdin_eof, args=(program,), daemon=True).start()
    # SIGTERM (a leftover being ended, leftovers.py) ends the program as stdin EOF does.
    signal.signal(signal.SIGTERM, lambda number, frame: end(program))

    reported: set[int] = set()
    while program.poll() is None:
        ports = listening(sockets_of(program.pid) if args.own_sockets else None)
        if args.port in ports:
            family, address = ports[args.port]
            threading.Thread(target=forward, daemon=True,
                             args=(status, args.socket_fd, args.socket, args.port, family,
                                   address)).start()
            break
        if ports and set(ports) != reported:
            reported = set(ports)
            status.say("program.listens_elsewhere", ports=sorted(ports), port=args.port)
        time.sleep(POLL)
    code = program.wait()
    deadline = time.monotonic() + FLUSH_WAIT
    while time.monotonic() < deadline and not all(f.flushed() for f in FORWARDERS):
        time.sleep(0.005)
    status.say("program.exited", returncode=code,
               connections=sum(f.accepted for f in FORWARDERS))
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    # Our own mistakes must not reach the learner's console (fd 2 stays theirs: the
    # program inherits it); they go to the status pipe instead.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the rest of our life)
    try:
        main(sys.argv[1:])
    except BaseException as crash:  # noqa: BLE001
        try:
            os.write(int(sys.argv[sys.argv.index("--status-fd") + 1]), (json.dumps(
                {"type": "program.launcher_failed", "message": repr(crash)}) + "\n").encode())
        finally:
            os._exit(70)
