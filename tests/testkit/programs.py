"""Program sandboxes for tests: a learner's program run the real way (``ProgramSpec`` ->
``Supervisor.start_program`` -> bwrap -> launcher -> the program, relay in front), in a
throwaway data folder, and what is left of it afterwards, read from /proc.

The folder is made with ``tempfile.mkdtemp`` (mode 0711), not pytest's ``tmp_path``:
bwrap runs as the sandbox's uid and must reach the folders it binds, and pytest's base
folder is root's alone (0700). Its layout is the playground's data folder in small:
``secret_key``, ``sandboxes/<name>/`` (each sandbox's files) and
``sandbox-config/<name>/run`` (its socket folder), so "another sandbox's folder" and
"the data folder" are real paths a hostile program can aim at.

Each sandbox gets its own uid, ``TEST_UID_BASE + its port``: ports are distinct within
a run, and RLIMIT_NPROC counts per uid, so two tests (or a test and a playground) never
share a process count. ``processes_of(uid)`` is how every test proves "nothing of the
sandbox is left".
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playground.sandboxes.programs import ProgramLimits, ProgramSpec, isolation_missing
from playground.sandboxes.supervisor import Supervisor

from .services import unavailable
from .waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
# Far above the playground's PLAYGROUND_PROGRAM_UID_BASE (200000) + pk, so a test's
# sandbox never shares a uid with a real one on the same machine.
TEST_UID_BASE = 400000
# Small limits for hostile tests: each denial is reached in well under a second.
SMALL_LIMITS = ProgramLimits(cpu_seconds=1, data_bytes=256 * 2**20, stack_bytes=2**20,
                             processes=16, open_files=32, file_bytes=2**20)
# Seconds for a sandbox's processes to be gone after a stop or a kill (measured: 0.01 s
# after bwrap's death, 2 s after stdin EOF with a stubborn program); a bound, not a wait.
GONE_WITHIN = 15.0

# The start of every hostile program: `say` prints a whole line at once, and
# `serve` listens on PORT the way the tutorial does, so the start succeeds and the test
# decides when the program stops.
PRELUDE = textwrap.dedent("""\
    import os, socket, sys

    PORT = int(os.environ["PORT"])


    def say(*args):
        # One write per line: the console is unbuffered (PYTHONUNBUFFERED), where
        # print() writes each argument apart, and a forked process's line could land
        # inside this one.
        sys.stdout.write(" ".join(map(str, args)) + "\\n")
        sys.stdout.flush()


    def serve():
        server = socket.socket()
        server.bind(("", PORT))
        server.listen(8)
        say("serving")
        while True:
            server.accept()[0].close()

""")

# A program that ignores SIGTERM and leaves a `setsid` grandchild that ignores it too (a
# daemon the old way): Stop, and a killed playground, must end them all.
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:  # a child that daemonises a grandchild the way servers used to
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("grandchild", os.getpid(), "in session", os.getsid(0))
        while True:
            time.sleep(1)
    os._exit(0)
say("stubborn parent ignores SIGTERM")
serve()
"""


def need_isolation(bwrap: str = "bwrap") -> None:
    """Skip (fail under CI=true) when programs cannot be isolated here."""
    reason = isolation_missing(bwrap)
    if reason is not None:
        unavailable("bubblewrap isolation for program sandboxes", reason)


def processes_of(uid: int) -> dict[int, str]:
    """``{pid: command line}`` of every live process whose real or effective uid is
    ``uid``, from /proc.

    Zombies are left out: a zombie runs nothing and holds no memory or file, only its
    pid until its parent reaps it. bwrap's pid 1 is one: when the namespace ends, the
    outer bwrap exits without reaping it, so it is reparented to the machine's init,
    which on these VMs reaps about 1.5 s later (measured)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # it ended while we read
        if str(uid) in fields["Uid"].split()[:2] and fields["State"].strip()[0] not in "ZX":
            found[int(entry)] = cmdline
    return found


def processes_with(text: str) -> dict[int, str]:
    """``{pid: command line}`` of every process whose command line contains ``text``
    (a relay is found by its ``--listen HOST:PORT``)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if text in cmdline:
            found[int(entry)] = cmdline
    return found


def wait_none_of(uid: int, timeout: float = GONE_WITHIN) -> None:
    """Fail unless every process of ``uid`` is gone within ``timeout`` seconds."""
    wait_until(lambda: not processes_of(uid), timeout,
               f"every process of uid {uid} to be gone",
               explain=lambda: f"still there: {processes_of(uid)}")


class Console:
    """Collects what the supervisor hands on: console lines, events, exits."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []  # (key, stream, line)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.exits: list[tuple[str, Any]] = []
        self.cond = threading.Condition()

    def on_output(self, key: str, stream: str, line: str) -> None:
        with self.cond:
            self.lines.append((key, stream, line))
            self.cond.notify_all()

    def on_event(self, key: str, event: dict[str, Any], tag: str = "") -> None:
        with self.cond:
            self.events.append((key, event))
            self.cond.notify_all()

    def on_exit(self, key: str, info: Any) -> None:
        with self.cond:
            self.exits.append((key, info))
            self.cond.notify_all()

    def text(self, key: str) -> str:
        with self.cond:
            return "\n".join(line for k, _s, line in self.lines if k == key)

    def _wait(self, found: Callable[[], Any], timeout: float, what: str) -> Any:
        with self.cond:
            value = self.cond.wait_for(found, timeout)
        assert value, f"timed out after {timeout:g} s waiting for {what}"
        return value

    def wait_line(self, key: str, text: str, timeout: float = 10.0) -> str:
        """The first console line of ``key`` containing ``text``."""
        def found() -> str | None:
            return next((line for k, _s, line in self.lines if k == key and text in line),
                        None)
        return self._wait(found, timeout, f"{text!r} on {key}'s console:\n"
                          + self.text(key))

    def wait_exit(self, key: str, timeout: float = 10.0) -> Any:
        """The ExitInfo ``on_exit`` got for ``key``."""
        def found() -> Any:
            return next((info for k, info in self.exits if k == key), None)
        return self._wait(found, timeout, f"{key} to exit:\n" + self.text(key))


class Programs:
    """Program sandboxes of one test, in one throwaway data folder, run by one real
    Supervisor. ``close()`` stops them all and checks that nothing of theirs is left."""

    def __init__(self, *, start_timeout: float = 10.0) -> None:
        need_isolation()
        self.data = Path(tempfile.mkdtemp(prefix="playground-hostile-"))
        self.data.chmod(0o711)  # the sandbox uids must reach their folders, not list ours
        self.secret = secrets.token_hex(16)
        (self.data / "secret_key").write_text(self.secret)
        (self.data / "secret_key").chmod(0o600)
        self.console = Console()
        self.supervisor = Supervisor(on_event=self.console.on_event,
                                     on_exit=self.console.on_exit,
                                     on_output=self.console.on_output,
                                     start_timeout=start_timeout, cwd=str(REPO))
        self.specs: dict[str, ProgramSpec] = {}

    def spec(self, name: str, source: str, port: int, *,
             limits: ProgramLimits = SMALL_LIMITS) -> ProgramSpec:
        """A sandbox ``name`` whose main.py is ``PRELUDE`` + ``source``, its relay on
        127.0.0.1:``port``, its uid ``TEST_UID_BASE + port``."""
        files = self.data / "sandboxes" / name
        run = self.data / "sandbox-config" / name / "run"
        files.mkdir(parents=True)
        run.mkdir(parents=True)
        for folder in (self.data / "sandboxes", self.data / "sandbox-config", run.parent):
            folder.chmod(0o711)
        (files / "main.py").write_text(PRELUDE + textwrap.dedent(source))
        spec = ProgramSpec(files=str(files), run_dir=str(run), main_file="main.py",
                           host="127.0.0.1", port=port, uid=TEST_UID_BASE + port,
                           limits=limits)
        self.specs[name] = spec
        return spec

    def start(self, name: str, source: str, port: int, *,
              limits: ProgramLimits = SMALL_LIMITS) -> Any:
        """Start it (blocks until its relay listens, as the playground does); the Child."""
        spec = self.spec(name, source, port, limits=limits)
        return self.supervisor.start_program(name, spec)

    def stop(self, name: str) -> Any:
        """Stop it (stdin EOF, as the playground's Stop) and prove nothing of it is left:
        no process of its uid, no relay on its port. Its ExitInfo."""
        info = self.supervisor.stop(name)
        self.assert_gone(name)
        return info

    def assert_gone(self, name: str) -> None:
        spec = self.specs[name]
        wait_none_of(spec.uid)
        relay = f"--listen {spec.host}:{spec.port}"
        wait_until(lambda: not processes_with(relay), GONE_WITHIN,
                   f"the relay of {name} to be gone",
                   explain=lambda: str(processes_with(relay)))

    def close(self) -> None:
        try:
            self.supervisor.stop_all()
            for name in self.specs:
                self.assert_gone(name)
        finally:
            shutil.rmtree(self.data, ignore_errors=True)

    def __enter__(self) -> Programs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
