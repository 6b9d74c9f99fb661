"""How a sandbox's server failed to start or ended, as facts (no Django here).

The supervisor learns these from the child's event stream (``server.start_failed`` with
its reason, ``server.stopping`` with its reason; docs/events.md) and from its exit status,
never by searching what it printed. Each fact carries a ``Message`` for people
(``playground.refusals``): English templates, translated where they are shown.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

from ..refusals import Message, Refusal, gettext_noop

PORT_IN_USE = gettext_noop("port %(port)s is already used by another program")
START_FAILED = gettext_noop("the server could not listen on port %(port)s: %(why)s")
# Why, by henaserver's `server.start_failed` reason (docs/events.md); `other` shows the
# server's own sentence.
WHY_NOT_LISTENING = {
    "permission_denied": gettext_noop("permission denied (ports below 1024 need root)"),
    "address_not_available": gettext_noop("this computer has no such address"),
}
NOT_READY = gettext_noop("the server stopped before it was ready (%(exit)s): %(last)s")
TIMEOUT = gettext_noop("the server did not report that it was listening within %(seconds)s s")
NO_ERROR_MESSAGE = gettext_noop("no error message")
KILLED_BY_SIGNAL = gettext_noop("killed by signal %(signal)s (exit code %(code)s)")
EXIT_CODE = gettext_noop("exit code %(code)s")
# A program sandbox (programs.py) ended by its CPU limit: the kernel's SIGXCPU at the
# soft limit (prlimit --cpu=N:N+1), so not a bare SIGKILL.
CPU_USED = gettext_noop("used its %(seconds)s s of CPU (killed by signal SIGXCPU, exit code "
                        "%(code)s)")

# Why a program sandbox did not start (Supervisor.start_program).
PROGRAM_ELSEWHERE = gettext_noop(
    "your program listens on port %(ports)s, but this sandbox's port is %(port)s: read "
    "the port from PORT (or sys.argv[1])")
PROGRAM_TIMEOUT = gettext_noop("your program did not listen on port %(port)s within "
                               "%(seconds)s s")
PROGRAM_SYNTAX_ERROR = gettext_noop("syntax error on line %(line)s: %(message)s")
PROGRAM_EXITED = gettext_noop("your program ended before it listened (%(exit)s): %(last)s")
# ExitInfo.stop_reason of a program ended for what it wrote in its folder
# (folder_watch.py), and what the card says then.
FOLDER_FULL = "folder full"
FOLDER_FULL_TEXT = gettext_noop(
    "your program wrote more than its folder may hold (%(megabytes)s MiB, %(files)s "
    "files) and was stopped; delete files to make room")
PROGRAM_ENDED = gettext_noop("your program ended by itself (exit code 0)")
RELAY_FAILED = gettext_noop("the capture relay could not start (%(exit)s)")
SOCKET_PATH_TOO_LONG = gettext_noop(
    "the sandbox's socket path is %(length)s bytes, longer than the %(limit)s a Unix "
    "socket allows: use a shorter PLAYGROUND_DATA_DIR")

UID_TAKEN = gettext_noop(
    "the program's user id %(uid)s is also %(who)s on this machine, so it was not "
    "started: set PLAYGROUND_PROGRAM_UID_BASE clear of users, groups and their "
    "subordinate ids (/etc/subuid, /etc/subgid)")
# henaserver's `server.stopping` reasons (docs/events.md) that the playground acts on.
ONE_REQUEST_SERVED = "one request served"
# ExitInfo.stop_reason of a program whose capture relay ended by itself (our fault, not
# the learner's: the relay's output is in the log).
RELAY_STOPPED = "the capture relay stopped"
# henaserver's `server.start_failed` reason for a port that another program holds.
ADDRESS_IN_USE = "address_in_use"


def describe_returncode(returncode: int, cpu_seconds: int | None = None) -> Message:
    """How a process ended, for people: 'exit code 1', 'killed by signal SIGKILL ...';
    for a program with a CPU limit of ``cpu_seconds``, SIGXCPU says it used them."""
    if cpu_seconds is not None and returncode == -signal.SIGXCPU:
        return Message(CPU_USED, seconds=cpu_seconds, code=returncode)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return Message(KILLED_BY_SIGNAL, signal=name, code=returncode)
    return Message(EXIT_CODE, code=returncode)


# Our own failure to start a child (an exception in the playground, not the learner's).
LAUNCH_FAILED = gettext_noop("the playground could not start the server because of an error "
                             "on its side; the details are in its log")

# Every sentence a StartError carries, and LAUNCH_FAILED: a row stopped with one of
# these did not start, and its page shows the sentence as an error (presenters'
# ``refused``), as it shows a crash, even when no exit code came with it (a program
# listening elsewhere, a timeout, our own failure).
START_REFUSALS = frozenset({
    PORT_IN_USE, START_FAILED, NOT_READY, TIMEOUT, PROGRAM_ELSEWHERE, PROGRAM_TIMEOUT,
    PROGRAM_SYNTAX_ERROR, PROGRAM_EXITED, RELAY_FAILED, SOCKET_PATH_TOO_LONG, UID_TAKEN,
    LAUNCH_FAILED,
})


def states_exit_code(message: Message) -> bool:
    """True when ``message`` already says the exit code (so a page does not add it)."""
    return message.template in (EXIT_CODE, KILLED_BY_SIGNAL, CPU_USED) or any(
        isinstance(value, Message) and states_exit_code(value)
        for value in message.params.values())


@dataclass(frozen=True)
class ExitInfo:
    """How a child that was running ended."""

    pid: int
    returncode: int
    requested: bool  # True when stop() asked for it; False means it ended by itself
    stderr_tail: tuple[str, ...]
    stdout_tail: tuple[str, ...]
    stop_reason: str | None = None  # its `server.stopping` reason, if it said one
    # A program sandbox's CPU limit (None for henaserver): its returncode is then the
    # program's (`program.exited`), and ``stderr_tail`` its console (both streams).
    cpu_seconds: int | None = None
    # A program's stderr alone (its console mixes both streams): see ``last_output``.
    errors_tail: tuple[str, ...] = ()
    # A program ended by folder_watch (stop_reason FOLDER_FULL): its folder's bounds.
    folder_bounds: tuple[int, int] | None = None

    @property
    def program(self) -> bool:
        return self.cpu_seconds is not None

    def message(self) -> Message:
        """How it ended, for pages (shown in the viewer's language)."""
        if self.stop_reason == FOLDER_FULL and self.folder_bounds is not None:
            return Message(FOLDER_FULL_TEXT, megabytes=self.folder_bounds[0] // 2**20,
                           files=self.folder_bounds[1])
        return describe_returncode(self.returncode, self.cpu_seconds)

    def describe(self) -> str:
        """In English, for logs: 'killed by signal SIGKILL (exit code -9)'. Pages use
        ``message()`` (a Message, shown in the viewer's language)."""
        return str(self.message())


class StartError(Refusal):
    """The child did not reach `listening`. ``reason`` is a short code for callers:
    ``port_in_use``, ``exited`` or ``timeout``, and for a program ``elsewhere``; the
    message says it for people."""

    def __init__(self, reason: str, message: Message, returncode: int | None = None,
                 stderr_tail: tuple[str, ...] = ()) -> None:
        super().__init__(message.template, **message.params)
        self.reason = reason
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        # A port somebody else holds is a conflict the learner can fix; the rest is ours.
        self.status = 409 if reason in ("port_in_use", "elsewhere") else 503


def last_output(console: tuple[str, ...] | list[str], errors: tuple[str, ...],
                returncode: int | None) -> str:
    """The line a program's end is told with (issue 13 point 7): on a failing exit, the
    last line its stderr got (a traceback's last line says why it died), else the
    console's last line ("" if it said nothing). Not simply the console's last line:
    stdout and stderr are two pipes read by two threads, so a print just before a crash
    can land in the console after the traceback."""
    if errors and returncode != 0:
        return errors[-1]
    return console[-1] if console else ""


def start_error(info: ExitInfo, failed: dict[str, Any] | None, port: int) -> StartError:
    """Why a child exited before listening on ``port``: its ``server.start_failed``
    event (``failed``) says so (docs/events.md); without one, its exit status and last
    stderr line do."""
    tail = info.stderr_tail
    if failed is not None and failed.get("reason") == ADDRESS_IN_USE:
        return StartError("port_in_use", Message(PORT_IN_USE, port=port),
                          info.returncode, tail)
    if failed is not None:
        reason = str(failed.get("reason") or "")
        why: Message | str = (Message(WHY_NOT_LISTENING[reason])
                              if reason in WHY_NOT_LISTENING
                              else str(failed.get("message") or reason))
        return StartError("exited", Message(START_FAILED, port=port, why=why),
                          info.returncode, tail)
    last = tail[-1] if tail else Message(NO_ERROR_MESSAGE)
    exit = describe_returncode(info.returncode)
    return StartError("exited", Message(NOT_READY, exit=exit, last=last),
                      info.returncode, tail)


def program_start_error(*, port: int, seconds: float, console: tuple[str, ...],
                        elsewhere: dict[str, Any] | None,
                        syntax_error: dict[str, Any] | None, exit: ExitInfo | None,
                        relay_exit: ExitInfo | None,
                        relay_failed: dict[str, Any] | None,
                        listened: bool = False,
                        errors: tuple[str, ...] = ()) -> StartError:
    """Why a program sandbox did not start (Supervisor.start_program), from what its
    launcher and relay reported: ``exit`` is the program's end if it ended,
    ``relay_exit`` the relay's; ``console`` the program's last lines (both streams),
    which the error carries as its ``stderr_tail``, and ``errors`` its stderr alone
    (``last_output``); ``listened``: the program did."""
    if elsewhere is not None:
        ports = ", ".join(str(p) for p in elsewhere.get("ports") or ())
        return StartError("elsewhere", Message(PROGRAM_ELSEWHERE, ports=ports, port=port),
                          None, console)
    if exit is not None:
        if syntax_error is not None:
            message = Message(PROGRAM_SYNTAX_ERROR, line=syntax_error.get("line"),
                              offset=syntax_error.get("offset"),
                              message=str(syntax_error.get("message") or ""))
        else:
            last = (last_output(console, errors, exit.returncode)
                    or Message(NO_ERROR_MESSAGE))
            message = Message(PROGRAM_EXITED, exit=exit.message(), last=last)
        return StartError("exited", message, exit.returncode, console)
    if relay_exit is not None:
        if relay_failed is not None:
            return start_error(relay_exit, relay_failed, port)
        return StartError("exited", Message(RELAY_FAILED, exit=relay_exit.message()),
                          relay_exit.returncode, relay_exit.stderr_tail)
    if listened:  # the program did, its relay (ours) did not say so in time
        return StartError("timeout", Message(TIMEOUT, seconds=f"{seconds:g}"), None, console)
    return StartError("timeout", Message(PROGRAM_TIMEOUT, port=port, seconds=f"{seconds:g}"),
                      None, console)
