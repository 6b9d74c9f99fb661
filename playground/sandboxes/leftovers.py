"""henaserver processes on this host, found through /proc: is a pid a sandbox's server,
which servers serve a folder, and ending those nobody should be running.

A program sandbox (programs.py) is two processes: bwrap (the row's pid; its argv binds
the folder at /sandbox/files and runs the launcher with ``--port``), or the launcher
itself when there is no isolation (its working directory is the folder), and the
capture relay in front of it (``henaserver relay --to unix:RUN/program.sock``: the
Unix socket whose listening descriptor the launcher holds, named in /proc/net/unix).
Ending bwrap ends all that runs inside it; the relay holds the sandbox's port, so it
is found and ended as well.

Plain Python (no Django): every playground process runs on the sandboxes' host (their
ports are on it), so a process table is a fact all of them can read. Used when a claim
is taken (sandboxes/claims.py): whatever still serves the sandbox's folder belongs to an
earlier claim, which has been given up, and must go before a new server binds the port.

Without /proc (macOS, a container that hides it: ``HAS_PROC``) these facts are not
there, and the playground falls back: no server is found here (a leftover one still
holding the port makes the new one fail with "port in use", a clear refusal), and
heartbeat.py judges processes by their beats alone. Nothing raises.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

from . import programs

# How a program sandbox's bwrap names its folders and launcher (programs.bwrap_argv).
INSIDE_FILES = os.fsencode(programs.INSIDE_FILES)
INSIDE_LAUNCHER = os.fsencode(programs.INSIDE_LAUNCHER)

# Whether this host has a Linux-style process table (checked once: it does not come
# and go while the playground runs).
HAS_PROC = os.path.isdir("/proc/self")

# Seconds a server of an earlier claim gets to exit by itself (its owner is stopping
# it: stdin EOF, then SIGTERM after supervisor.STOP_GRACE) before we end it here.
EXIT_WAIT = 5.0


def _cmdline(pid: int) -> list[bytes] | None:
    """The arguments of a live (not zombie) process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except (OSError, IndexError):
        return None
    return None if state in ("Z", "X") else args


def _option(args: list[bytes], name: bytes) -> bytes | None:
    return next((b for a, b in zip(args, args[1:], strict=False) if a == name), None)


def _is_program(args: list[bytes]) -> bool:
    """bwrap running the launcher, or the launcher itself (programs.launcher_argv)."""
    return (any(a.endswith(b"/launcher.py") for a in args[:3])
            or (os.path.basename(args[0]) == b"bwrap" and INSIDE_LAUNCHER in args)) and (
        b"--socket-fd" in args or b"--socket" in args)


def is_sandbox_server(pid: int | None, port: int) -> bool:
    """True if ``pid`` is a live (not zombie) ``henaserver``, or a program sandbox's
    bwrap, serving ``port`` here."""
    if not pid:
        return False
    args = _cmdline(pid)
    return (args is not None and (b"henaserver" in args or _is_program(args))
            and _option(args, b"--port") == str(port).encode())


def _program_root(pid: int, args: list[bytes]) -> bytes | None:
    """The folder a program sandbox's process serves: bwrap's ``--bind ROOT
    /sandbox/files``; the launcher's working directory when it runs without bwrap."""
    if os.path.basename(args[0]) == b"bwrap":
        return next((src for flag, src, dst in zip(args, args[1:], args[2:], strict=False)
                     if flag == b"--bind" and dst == INSIDE_FILES), None)
    try:
        return os.fsencode(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def _unix_paths() -> dict[str, bytes]:
    """{socket inode: path} of the bound Unix sockets of this network namespace."""
    found = {}
    try:
        with open("/proc/net/unix", "rb") as f:
            for row in f.read().splitlines()[1:]:
                fields = row.split(maxsplit=7)
                if len(fields) == 8:
                    found[fields[6].decode()] = fields[7]
    except OSError:
        pass
    return found


def _sockets(pids: Iterable[int]) -> set[str]:
    """The socket inodes ``pids`` hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    return inodes


def serving(root: str) -> list[int]:
    """Pids of the live henaserver processes whose document root is ``root``, and of
    the program sandboxes' processes (bwrap or launcher, and relay) serving it."""
    if not HAS_PROC:
        return []
    wanted = os.fsencode(root)
    found: list[int] = []
    programs_found: list[int] = []
    relays: dict[int, bytes | None] = {}
    parents: dict[int, int | None] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        args = _cmdline(pid)
        if not args:
            continue
        parents[pid] = _parent(pid)
        if b"henaserver" in args and _option(args, b"--root") == wanted:
            found.append(pid)
        elif b"relay" in args and b"henaserver" in args:
            relays[pid] = _option(args, b"--to")
        elif _is_program(args) and _program_root(pid, args) == wanted:
            programs_found.append(pid)
    # bwrap's own pid 1 in the sandbox has the same arguments: its parent is enough.
    tops = [pid for pid in programs_found if parents.get(pid) not in programs_found]
    # The relays that forward to a socket those processes (or their children) hold.
    family = set(tops)
    while more := {pid for pid, parent in parents.items() if parent in family} - family:
        family |= more
    paths = _unix_paths()
    targets = {b"unix:" + paths[i] for i in _sockets(family) if i in paths}
    return found + tops + [pid for pid, to in relays.items() if to in targets]


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def start_ticks(pid: int) -> int | None:
    """When the process ``pid`` started (clock ticks since boot, /proc/PID/stat field
    22): with the pid, a name no later process can reuse. None if there is no such live
    (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])  # field 22 of the whole line; fields[0] is field 3


def alive(pid: int) -> bool:
    return _cmdline(pid) is not None


def terminate(pid: int) -> None:
    """SIGTERM, without waiting (henaserver shuts down cleanly on it)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def end(pids: Iterable[int], wait: float = EXIT_WAIT) -> None:
    """Give ``pids`` ``wait`` seconds to exit, then SIGTERM, then SIGKILL."""
    pending = list(pids)
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            for pid in pending:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + wait
        while pending and time.monotonic() < deadline:
            pending = [pid for pid in pending if alive(pid)]
            if pending:
                time.sleep(0.05)
        if not pending:
            return
        wait = 2.0  # after a signal, exiting takes milliseconds
