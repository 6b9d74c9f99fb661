"""Start, watch and stop henaserver child processes, and learners' own programs
(``start_program``: the program under bwrap behind the capture relay, programs.py).

Plain Python on purpose (no Django imports): it is tested on its own with real
subprocesses, and the Django side (``runtime.py``) only plugs callbacks in.

How a child is run, and why (see /work/shared/NOTES.md):

* ``python -u -m henaserver ... --exit-on-stdin-eof`` with ``stdin=PIPE``: the kernel
  closes that pipe however the playground dies (Ctrl+C, autoreload, ``kill -9``), so the
  child never outlives us. ``PR_SET_PDEATHSIG`` is not used: it fires when the *thread*
  that created the child exits, and Django runs each request in a worker thread. (bwrap
  sets it on itself for ``--die-with-parent``: it is started from one lasting thread,
  ``programs.spawn``.)
* ``start_new_session=True``: Ctrl+C in the runserver terminal is not delivered to the
  children directly, so they are stopped by us (stdin EOF), not half by the terminal.
* Events arrive as JSON lines on an inherited pipe (``--events-fd``). ``start()`` waits
  for the first one, ``server.listening``, or for the child's exit (then its stderr tail
  says why, e.g. the port is taken).
* Every reader is a *daemon* thread: a non-daemon thread would hang Django's autoreloader.

Callbacks, for the live-traffic view (they run on supervisor threads, never on an asyncio
loop; code that talks to Channels must hop onto the server loop with
``asyncio.run_coroutine_threadsafe``):

* ``on_event(key, event, tag)``: every event dict the child reports, in order, from the
  child's event-reader thread (``server.listening`` included), with the child's ``tag``
  (the playground's claim): events of an old server are never taken for a newer one's.
* ``on_output(key, stream, line)``: every line the child writes to ``"stdout"`` (its
  access log) or ``"stderr"``, without the line ending, from that stream's reader thread.
* ``on_exit(key, exit_info)``: once per child that started successfully, after it exited,
  from its waiter thread. ``exit_info.requested`` tells a stop we asked for from a crash.
  A child whose start failed raises ``StartError`` from ``start()`` instead.

``stop()`` returns only once the child's event reader reached EOF and handed every
event to ``on_event`` (the reader ends at EOF, so the waiter joins it without a time
limit): whatever the caller does next (a new run, docs/runs.md) comes after the old
server's last events.

Exceptions raised by callbacks are logged and swallowed: one bad callback must not stop
the readers (the child would block on a full pipe).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, NoReturn

from ..refusals import Message
from . import folder_watch, programs
from .children import (
    LINES_GRACE,
    STOP_GRACE,
    TAIL_LINES,
    TAIL_WAIT,
    TRAFFIC_EVENTS,
    Child,
    Children,
    EventCallback,
    ExitCallback,
    OutputCallback,
    child_environment,
)
from .exits import (
    FOLDER_FULL,
    SOCKET_PATH_TOO_LONG,
    TIMEOUT,
    ExitInfo,
    StartError,
    program_start_error,
    start_error,
)
from .programs import MAX_SOCKET_PATH, ProgramSpec

__all__ = ["LINES_GRACE", "STOP_GRACE", "TAIL_LINES", "TAIL_WAIT", "TRAFFIC_EVENTS",
           "Child", "Supervisor", "child_environment"]

log = logging.getLogger(__name__)

# Seconds a child gets to report `server.listening` before we give up and kill it.
DEFAULT_START_TIMEOUT = 10.0


class Supervisor(Children):
    """Owns the children of one process, keyed by a caller-chosen string."""

    def __init__(
        self,
        *,
        python: str = sys.executable,
        on_event: EventCallback | None = None,
        on_exit: ExitCallback | None = None,
        on_output: OutputCallback | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        cwd: str | None = None,
        extra_args: tuple[str, ...] = ("--quiet",),
    ) -> None:
        self.python = python
        self.on_event = on_event
        self.on_exit = on_exit
        self.on_output = on_output
        self.start_timeout = start_timeout
        self.cwd = cwd
        self.extra_args = extra_args
        self._lock = threading.Lock()
        self._children: dict[str, Child] = {}

    # ----- queries -------------------------------------------------------------------

    def get(self, key: str) -> Child | None:
        """The live child for ``key`` (starting or running), or None."""
        with self._lock:
            child = self._children.get(key)
            return child if child and child.state != "exited" else None

    def pids(self) -> dict[str, int]:
        """``{key: pid}`` of every live child."""
        with self._lock:
            return {k: c.pid for k, c in self._children.items() if c.state != "exited"}

    # ----- start ---------------------------------------------------------------------

    def start(self, key: str, *, root: str, host: str, port: int,
              args: tuple[str, ...] = (), tag: str = "") -> Child:
        """Start a child and block until it reports `server.listening`. ``args`` are
        more henaserver options for this child only (its mode, e.g. ``--mode once``);
        ``tag`` is kept on the child, for ``stop(key, tag=...)``.

        Raises StartError (with the child's stderr tail) if it exits first or does not
        report in time. Raises ValueError if ``key`` already has a live child (checked
        again when the new one is registered: two threads may start one key at once).
        """
        self._check_free(key)
        read_fd, write_fd = os.pipe()
        cmd = [
            self.python, "-u", "-m", "henaserver",
            "--root", root, "--host", host, "--port", str(port),
            "--events-fd", str(write_fd), "--exit-on-stdin-eof", *self.extra_args, *args,
        ]
        # never os.environ: it holds the playground's secrets
        popen = self._popen(cmd, read_fd, (write_fd,), cwd=self.cwd,
                            env=child_environment(root))
        child = Child(key=key, popen=popen, host=host, requested_port=port, root=root,
                      tag=tag)
        self._register(child, read_fd)

        child.settled.wait(self.start_timeout)
        with self._lock:
            if child.state == "starting" and child.listening is not None:
                child.state = "running"
                log.info("sandbox %s: pid %s listening on %s", key, child.pid,
                         child.listening.get("url"))
                return child
            timed_out = child.state == "starting"
        if timed_out:
            # No word from it in time: it is no use to anyone, kill it.
            self._kill(child)
            child.exited.wait(STOP_GRACE)
            raise StartError("timeout", Message(TIMEOUT, seconds=f"{self.start_timeout:g}"),
                             child.popen.returncode, tuple(child.stderr_tail))
        child.exited.wait(STOP_GRACE)
        info = child.exit_info or ExitInfo(
            child.pid, child.popen.returncode or 0, False, tuple(child.stderr_tail), ())
        raise start_error(info, child.start_failed, child.requested_port)

    def start_program(self, key: str, spec: ProgramSpec, *, tag: str = "",
                      relay_args: tuple[str, ...] = ()) -> Child:
        """Start a learner's program (programs.py, docs/program-sandboxes.md) behind a
        capture relay, with the contract of ``start``: it blocks until the relay
        reports `server.listening` on ``spec.host:spec.port``.

        The program runs under bwrap as ``spec.uid`` (or, when ``isolation_missing``,
        the launcher runs it here on an internal port). Once the launcher reports
        ``program.listening``, the relay starts (``relay_args``: more relay options),
        so a browser never reaches a relay with nobody behind it. ``on_event`` gets the
        launcher's ``program.*`` events and the relay's, with this child's tag; the
        program's stdout and stderr go to ``on_output``. StartError reasons:
        ``elsewhere`` (it listens on other ports), ``timeout``, ``exited`` (a syntax
        error's line and offset are in the message's params), ``port_in_use``.
        """
        self._check_free(key)
        path = spec.socket_path.encode()
        if len(path) > MAX_SOCKET_PATH:
            raise StartError("exited", Message(SOCKET_PATH_TOO_LONG, length=len(path),
                                               limit=MAX_SOCKET_PATH))
        isolated = programs.isolation_missing(spec.bwrap) is None
        owner = spec.uid if os.geteuid() == 0 else None  # never run a program as root
        programs.prepare(spec, owner=owner)
        read_fd, write_fd = os.pipe()
        try:
            plan = programs.plan(spec, isolated=isolated, owner=owner, status_fd=write_fd)
        except OSError:  # e.g. the socket could not be bound
            os.close(read_fd)
            os.close(write_fd)
            raise
        ids = {} if owner is None else {"user": owner, "group": owner, "extra_groups": []}
        try:
            popen = programs.spawn(  # bwrap: from a thread that lives as long as we do
                lambda: self._popen(plan.cmd, read_fd, plan.fds, cwd=plan.cwd,
                                    env=plan.env, **ids))
            if plan.bound is not None:  # bwrap waits on block_fd: in the group, then go
                try:
                    plan.bound.enter(popen.pid)
                except OSError as error:  # run it all the same, with its rlimits
                    log.warning("sandbox %s: not in its control group: %s", key, error)
        except BaseException:
            if plan.bound is not None:
                plan.bound.remove()
            raise
        finally:
            if plan.block_fd is not None:
                os.write(plan.block_fd, b"go")
                os.close(plan.block_fd)
        child = Child(key=key, popen=popen, host=spec.host, requested_port=spec.port,
                      root=spec.files, tag=tag, cpu_seconds=spec.limits.cpu_seconds,
                      # Under bwrap the pid namespace takes everything with it; without,
                      # the uid is swept (never under bwrap: a newer start of the same
                      # sandbox, in another process, may already run as that uid).
                      uid=None if isolated else owner, bound=plan.bound,
                      folder_bounds=(spec.limits.folder_bytes, spec.limits.folder_entries))
        try:
            self._register(child, read_fd, prefix="program.")
        except ValueError:  # another start of this key won
            if plan.bound is not None:
                plan.bound.remove()
            raise
        folder_watch.start(key, spec.files, child.folder_bounds, child.ended,  # its disk
                           lambda used, n: self._folder_full(child, isolated, used, n))

        deadline = time.monotonic() + self.start_timeout
        child.settled.wait(self.start_timeout)
        if child.program is None:
            self._fail_program(child, isolated)
        child.settled.clear()  # now for the relay's `server.listening`
        self._start_relay(child, spec, relay_args)
        child.settled.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if (child.state == "starting" and child.listening is not None
                    and not child.relay_ended.is_set()):
                child.state = "running"
                log.info("sandbox %s: program (pid %s) behind relay %s", key, child.pid,
                         child.listening.get("url"))
                return child
        self._fail_program(child, isolated)

    # ----- start helpers -------------------------------------------------------------

    def _folder_full(self, child: Child, isolated: bool, used: int, entries: int) -> None:
        """A program wrote past its folder's bounds (folder_watch): end its sandbox."""
        log.warning("sandbox %s: folder of %d bytes, %d entries, over %s: ended",
                    child.key, used, entries, child.folder_bounds)
        child.stop_reason = FOLDER_FULL
        if isolated:
            self._kill(child)  # bwrap: the namespace, and all in it
        else:  # no namespace: the launcher ends the program's group, the uid is swept
            self._close_stdin(child)
            child.ended.wait(STOP_GRACE) or self._kill(child)

    def _check_free(self, key: str) -> None:
        with self._lock:
            old = self._children.get(key)
            if old and old.state != "exited":
                raise ValueError(f"sandbox {key} is already running (pid {old.pid})")

    @staticmethod
    def _popen(cmd: list[str], read_fd: int, fds: tuple[int, ...],
               **options: Any) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=fds, close_fds=True, start_new_session=True, **options)
        except OSError:
            os.close(read_fd)
            raise
        finally:
            # Only the child may hold the write end, or we would never see EOF.
            for fd in fds:
                os.close(fd)

    def _register(self, child: Child, read_fd: int, prefix: str = "") -> None:
        """Make ``child`` the one of its key and start its threads; if another thread's
        start of this key registered first, kill ours and raise ValueError. ``prefix``:
        the only events its pipe may carry (``_read_events``)."""
        with self._lock:
            other = self._children.get(child.key)
            won = other is None or other.state == "exited"
            if won:
                self._children[child.key] = child
        if not won:
            child.popen.kill()
            child.popen.communicate()  # reaps it and closes its pipes
            os.close(read_fd)
            raise ValueError(f"sandbox {child.key} is already running")
        self._spawn(child, self._read_events, os.fdopen(read_fd, "rb"), prefix)
        self._spawn(child, self._read_lines, child.popen.stdout, "stdout", child.stdout_tail)
        self._spawn(child, self._read_lines, child.popen.stderr, "stderr", child.stderr_tail)
        self._spawn(child, self._wait)

    def _start_relay(self, child: Child, spec: ProgramSpec,
                     relay_args: tuple[str, ...]) -> None:
        """The capture relay in front of a program that listens: the public port."""
        read_fd, write_fd = os.pipe()
        address = f"[{spec.host}]" if ":" in spec.host else spec.host
        cmd = [self.python, "-u", "-m", "henaserver", "relay",
               "--listen", f"{address}:{spec.port}", "--to", f"unix:{spec.socket_path}",
               "--events-fd", str(write_fd), "--exit-on-stdin-eof", *relay_args]
        relay = self._popen(cmd, read_fd, (write_fd,), cwd=self.cwd,
                            env=child_environment(spec.files))
        with self._lock:  # _wait ends a relay it sees; one added after `ended`, we end
            ended = child.ended.is_set()
            if not ended:
                child.relay = relay
                self._spawn(child, self._read_events, os.fdopen(read_fd, "rb"))
                self._spawn(child, self._read_lines, relay.stdout, "relay", child.relay_tail)
                self._spawn(child, self._read_lines, relay.stderr, "relay", child.relay_tail)
                self._spawn(child, self._wait_relay, child.drain[-1])
        if ended:
            relay.kill()
            relay.communicate()
            os.close(read_fd)

    def _fail_program(self, child: Child, isolated: bool) -> NoReturn:
        """End a program that did not start (its relay too) and say why."""
        elsewhere = child.elsewhere if child.program is None else None
        exited = child.state == "exited" or child.popen.poll() is not None
        relay_exit = None
        if child.relay is not None and child.relay_ended.is_set():
            relay_exit = ExitInfo(child.relay.pid, child.relay.returncode or 0, False,
                                  tuple(child.relay_tail), ())
        if isolated:
            self._kill(child)  # bwrap: its namespace, and all in it, dies at once
        else:
            self._close_stdin(child)  # the launcher ends the program's process group
        if not child.exited.wait(2 * STOP_GRACE):  # the launcher's grace is shorter
            self._kill(child)
            child.exited.wait(STOP_GRACE)
        raise program_start_error(
            port=child.requested_port, seconds=self.start_timeout,
            console=tuple(child.console_tail), elsewhere=elsewhere,
            syntax_error=child.syntax_error,
            exit=child.exit_info if exited else None,  # the program's end comes first
            relay_exit=relay_exit, relay_failed=child.start_failed,
            listened=child.program is not None, errors=tuple(child.stderr_tail))

    # ----- stop ----------------------------------------------------------------------

    def stop(self, key: str, timeout: float = STOP_GRACE,
             tag: str | None = None) -> ExitInfo | None:
        """Stop the child for ``key`` and wait for it. None if there was none (or, with
        ``tag``, if the child has another tag: a later start's).

        Closing stdin asks it to exit cleanly (``--exit-on-stdin-eof``); SIGTERM and then
        SIGKILL follow if it does not.
        """
        with self._lock:
            child = self._children.get(key)
            if child is None or child.state == "exited" or tag not in (None, child.tag):
                return None
            child.state = "stopping"
        # A program's relay first: it reports each connection's close, then the
        # launcher ends the program (its namespace goes with it).
        self._end_relay(child, timeout)
        self._close_stdin(child)
        if not child.ended.wait(timeout):
            log.warning("sandbox %s: pid %s ignored stdin EOF; SIGTERM", key, child.pid)
            self._signal(child, signal.SIGTERM)
            if not child.ended.wait(timeout):
                self._kill(child)
        # The process is gone (SIGKILL cannot be ignored); `exited` is set once its
        # event reader handed every event on (it waits while the ingest queue is full)
        # and the waiter called on_exit. The reader ends at EOF, so this is a wait for
        # the ingest writer to make room; bounded all the same, so that a writer stuck
        # on its database cannot hang a Stop (a tail arriving later is still counted in
        # its own run: its events carry the child's tag).
        if not child.exited.wait(TAIL_WAIT):
            log.warning("sandbox %s: pid %s ended, its last events still queued after "
                        "%g s", key, child.pid, TAIL_WAIT)
        return child.exit_info

    def stop_all(self, timeout: float = STOP_GRACE) -> None:
        """Stop every child (used at exit). Closes all stdins first so they stop in
        parallel, then waits for each."""
        with self._lock:
            children = [c for c in self._children.values() if c.state != "exited"]
            for child in children:
                child.state = "stopping"
        for child in children:
            if child.relay is not None and child.relay.stdin:
                self._close_stdin_of(child.relay)
            self._close_stdin(child)
        deadline = time.monotonic() + timeout
        for child in children:
            if not child.exited.wait(max(0.0, deadline - time.monotonic())):
                self._kill(child)
