"""The running children of a Supervisor: what is known of each (``Child``) and the
threads that read its pipes and wait for its end.

Plain Python (no Django), split from supervisor.py, which starts and stops children
(see its docstring for why a child is run the way it is). Every reader is a *daemon*
thread: a non-daemon thread would hang Django's autoreloader.
"""

from __future__ import annotations

import collections
import json
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cgroups import Bound
from .confine import end_every_process_of
from .exits import FOLDER_FULL, RELAY_STOPPED, ExitInfo
from .pipes import MAX_CONSOLE_LINE, MAX_EVENT_LINE, bounded_lines, console_line

log = logging.getLogger("playground.sandboxes.supervisor")

# How many lines of stdout/stderr we keep per child: enough for a traceback, bounded so a
# chatty child cannot grow our memory.
TAIL_LINES = 40
# Seconds a child gets to exit after stdin EOF, then after SIGTERM, before SIGKILL.
STOP_GRACE = 3.0
# Events that mean someone reached the server (`server.stats` is sent only while its
# counters change); `Child.active_at` follows them.
TRAFFIC_EVENTS = frozenset({"connection.open", "exchange", "connection.close",
                            "server.stats"})
# Seconds a stop waits, after the child ended, for its last events to be handed on.
TAIL_WAIT = 30.0
# Seconds the stdout/stderr readers get to drain after the child exited (a grandchild
# could hold those pipes open). The events reader gets no limit: only the child holds
# its pipe, and its events must all be handed on before a stop returns.
LINES_GRACE = 2.0
# Seconds a program's relay gets, after the program ended by itself, to pass on what
# its connections still carry (an answer sent just before the exit) before it stops.
RELAY_DRAIN = 2.0

EventCallback = Callable[[str, dict[str, Any], str], None]
OutputCallback = Callable[[str, str, str], None]
ExitCallback = Callable[[str, ExitInfo], None]


def child_environment(home: str) -> dict[str, str]:
    """The whole environment of a child: a few harmless variables, never ours.

    The playground's environment holds its secrets (DJANGO_SECRET_KEY, DATABASE_URL with
    its password, REDIS_URL); a learner's server, and whatever it runs, must not see
    them. HOME is the sandbox's own folder, so nothing in the child looks in ours.
    """
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


@dataclass
class Child:
    """One running henaserver. Read-only for callers; the supervisor owns it."""

    key: str
    popen: subprocess.Popen[bytes]
    host: str
    requested_port: int
    root: str
    tag: str = ""  # the caller's name for this start (the playground: its claim)
    started_at: float = field(default_factory=time.time)
    listening: dict[str, Any] | None = None  # the `server.listening` event
    start_failed: dict[str, Any] | None = None  # the `server.start_failed` event
    stop_reason: str | None = None  # the `server.stopping` event's reason
    stats: dict[str, Any] = field(default_factory=dict)  # latest `server.stats`
    # time.time() of its last traffic event (the playground's idle culling reads it).
    active_at: float = 0.0
    stdout_tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    stderr_tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    exit_info: ExitInfo | None = None
    # "starting" -> "running" -> ("stopping") -> "exited"; guarded by Supervisor._lock.
    state: str = "starting"
    settled: threading.Event = field(default_factory=threading.Event)  # listening or exited
    exited: threading.Event = field(default_factory=threading.Event)  # and drained
    ended: threading.Event = field(default_factory=threading.Event)  # the process is gone
    threads: list[threading.Thread] = field(default_factory=list)
    # Readers joined without a time limit before `exited` (their events must all be
    # handed on before a stop returns): the events readers.
    drain: list[threading.Thread] = field(default_factory=list)
    # (stream, line) of stdout and stderr in the order their reader threads took them:
    # the console a late viewer is shown (runtime.console_tail). Two pipes read by two
    # threads cannot give the exact order the program wrote them in (a print just before
    # a crash may land after the traceback); within one stream the order is exact.
    console: collections.deque[tuple[str, str]] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    # A program sandbox (Supervisor.start_program): `popen` is bwrap (or the launcher),
    # `relay` the capture relay in front of it, started once the program listens.
    relay: subprocess.Popen[bytes] | None = None
    relay_ended: threading.Event = field(default_factory=threading.Event)
    relay_tail: collections.deque[str] = field(  # its own output: logs, not the console
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES))
    program: dict[str, Any] | None = None  # the launcher's `program.listening`
    elsewhere: dict[str, Any] | None = None  # its `program.listens_elsewhere`
    syntax_error: dict[str, Any] | None = None  # its `program.syntax_error`
    program_exit: int | None = None  # the returncode in its `program.exited`
    cpu_seconds: int | None = None  # the program's CPU limit, for its exit message
    folder_bounds: tuple[int, int] | None = None  # its folder's (bytes, entries)
    uid: int | None = None  # the program's own uid, cleared of processes at its end
    bound: Bound | None = None  # the program sandbox's control group, removed at its end
    connections: int = 0  # open connections, from connection.open/close events
    opened: int = 0  # connections opened in all, from connection.open events
    forwarded: int = 0  # connections its launcher accepted (`program.exited`)

    @property
    def console_tail(self) -> tuple[str, ...]:
        """The console's lines without their streams (a start error's tail)."""
        return tuple(line for _, line in list(self.console))

    @property
    def is_program(self) -> bool:
        return self.cpu_seconds is not None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def port(self) -> int:
        if self.listening and isinstance(self.listening.get("port"), int):
            return int(self.listening["port"])
        return self.requested_port


class Children:
    """The thread side of a Supervisor: reading each child's events and console, and
    waiting for its end. The Supervisor sets these attributes."""

    on_event: EventCallback | None
    on_exit: ExitCallback | None
    on_output: OutputCallback | None
    _lock: threading.Lock
    _children: dict[str, Child]

    # ----- threads -------------------------------------------------------------------

    def _spawn(self, child: Child, target: Callable[..., None], *args: Any) -> None:
        # daemon=True is essential: see the module docstring.
        name = f"sandbox-{child.key}-{target.__name__.strip('_')}"
        thread = threading.Thread(target=target, args=(child, *args), name=name, daemon=True)
        child.threads.append(thread)
        if target == self._read_events:
            child.drain.append(thread)
        thread.start()

    def _read_events(self, child: Child, stream: Any, prefix: str = "") -> None:
        """Hand each event on. With ``prefix`` (a launcher's status pipe: "program."),
        only events of that name: the program runs as the launcher's uid, so a line
        there is never proof of anything else (a forged `server.listening` or
        `exchange` is dropped)."""
        with stream:
            for raw, length in bounded_lines(stream, MAX_EVENT_LINE):
                try:  # a line cut at the bound is unreadable (b"" does not parse)
                    event = json.loads(raw if length == len(raw) else b"")
                except ValueError:
                    log.warning("sandbox %s: unreadable event line of %d bytes %r",
                                child.key, length, raw[:200])
                    continue
                if not isinstance(event, dict):
                    continue
                kind = event.get("type")
                if not str(kind).startswith(prefix):
                    log.warning("sandbox %s: %r is not a %s event", child.key, kind, prefix)
                    continue
                if kind == "server.listening" and child.listening is None:
                    child.listening = event
                    child.settled.set()
                elif kind == "server.start_failed":
                    child.start_failed = event  # settled when it exits, just after
                elif kind == "server.stopping" and child.stop_reason != FOLDER_FULL:
                    child.stop_reason = str(event.get("reason") or "")  # (the relay's
                    # stop after folder_watch ended the program is not the reason)
                elif kind == "server.stats":
                    child.stats = event
                elif kind == "program.listening" and child.program is None:
                    child.program = event
                    child.settled.set()
                elif kind == "program.listens_elsewhere" and child.elsewhere is None:
                    child.elsewhere = event
                    child.settled.set()
                elif kind == "program.syntax_error":
                    child.syntax_error = event
                elif kind == "program.exited" and isinstance(event.get("returncode"), int):
                    child.program_exit = event["returncode"]
                    child.forwarded = int(event.get("connections") or 0)
                if kind == "connection.open":
                    child.connections += 1
                    child.opened += 1
                elif kind == "connection.close":
                    child.connections -= 1
                if kind in TRAFFIC_EVENTS:
                    child.active_at = time.time()
                self._call(self.on_event, child.key, event, child.tag)

    def _read_lines(self, child: Child, stream: Any, name: str,
                    tail: collections.deque[str]) -> None:
        with stream:
            for raw, length in bounded_lines(stream, MAX_CONSOLE_LINE):
                line = console_line(raw, length)
                tail.append(line)
                if tail is child.relay_tail:  # the relay's own words: ours, not theirs
                    log.info("sandbox %s: relay: %s", child.key, line)
                    continue
                child.console.append((name, line))
                if self.on_output is not None:
                    self._call(self.on_output, child.key, name, line)

    def _wait(self, child: Child) -> None:
        returncode = child.popen.wait()
        if child.uid is not None:
            end_every_process_of(child.uid)
        if child.bound is not None:
            child.bound.end()  # and whatever of it outlived bwrap (cgroups.py)
        child.ended.set()
        if child.is_program:  # whatever may be left inside ends at the launcher's EOF
            self._close_stdin(child)
        with self._lock:  # start_program adds no relay once `ended` is set
            relay, threads = child.relay, list(child.threads)
        if relay is not None:  # a program's relay has nobody behind it any more
            if child.state == "running":  # it ended by itself: let its last words out
                threads[0].join()  # the launcher's status (its pipe is at EOF now)
                self._drain_relay(child)
            self._end_relay(child, STOP_GRACE)
        # Let the readers drain what the child wrote before it died (they end at EOF).
        # The events readers are joined without a limit: a stop must not return while
        # the old server's last events are still on their way.
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=None if thread in child.drain else LINES_GRACE)
        if child.program_exit is not None:  # the program's own code, not the launcher's
            returncode = child.program_exit
        with self._lock:
            was = child.state
            child.state = "exited"
            info = ExitInfo(
                pid=child.pid,
                returncode=returncode,
                requested=(was == "stopping"),
                # A program's console is both streams, in order.
                stderr_tail=tuple(child.console_tail if child.is_program
                                  else child.stderr_tail),
                stdout_tail=tuple(child.stdout_tail),
                stop_reason=child.stop_reason,
                cpu_seconds=child.cpu_seconds,
                errors_tail=tuple(child.stderr_tail) if child.is_program else (),
                folder_bounds=child.folder_bounds,
            )
            child.exit_info = info
            if self._children.get(child.key) is child:
                del self._children[child.key]
        self._close_stdin(child)
        if was in ("running", "stopping"):
            if not info.requested:
                log.warning("sandbox %s: pid %s crashed, %s", child.key, child.pid,
                            info.describe())
            self._call(self.on_exit, child.key, info)
        child.exited.set()
        child.settled.set()

    @staticmethod
    def _drain_relay(child: Child) -> None:
        """Wait (RELAY_DRAIN at most) until the relay reported every connection the
        launcher forwarded, and closed them all: what the program sent just before it
        exited reaches the browser and the traffic view."""
        deadline = time.monotonic() + RELAY_DRAIN
        while time.monotonic() < deadline and (child.opened < child.forwarded
                                               or child.connections > 0):
            time.sleep(0.01)

    def _wait_relay(self, child: Child, events: threading.Thread) -> None:
        """A program's relay ended: by our stop, or by itself (our fault, never the
        learner's: ``RELAY_STOPPED``), which ends the program too. ``events`` is its
        events reader: what it said (``server.start_failed``) is read before anyone
        learns it ended."""
        assert child.relay is not None
        child.relay.wait()
        events.join()  # only the relay held that pipe: it is at EOF
        if child.state == "running" and not child.ended.is_set():
            log.warning("sandbox %s: the capture relay stopped (%s): %s", child.key,
                        child.relay.returncode, " | ".join(child.relay_tail))
            child.stop_reason = RELAY_STOPPED
            self._close_stdin(child)
        child.relay_ended.set()
        child.settled.set()  # a start waiting for its `server.listening` learns it failed

    def _end_relay(self, child: Child, timeout: float) -> None:
        """Stop a program's relay (stdin EOF: it closes its connections, reporting each,
        and exits), SIGTERM and SIGKILL if it does not."""
        relay = child.relay
        if relay is None:
            return
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is None:
                self._close_stdin_of(relay)
            else:
                try:
                    relay.send_signal(sig)
                except ProcessLookupError:
                    pass
            if child.relay_ended.wait(timeout):
                return

    # ----- helpers -------------------------------------------------------------------

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("supervisor callback %r failed", callback)

    @classmethod
    def _close_stdin(cls, child: Child) -> None:
        cls._close_stdin_of(child.popen)

    @staticmethod
    def _close_stdin_of(popen: subprocess.Popen[bytes]) -> None:
        try:
            if popen.stdin and not popen.stdin.closed:
                popen.stdin.close()
        except OSError:
            pass  # already gone: the child has exited

    @staticmethod
    def _signal(child: Child, sig: signal.Signals) -> None:
        try:
            child.popen.send_signal(sig)
        except ProcessLookupError:
            pass

    def _kill(self, child: Child) -> None:
        self._signal(child, signal.SIGKILL)
