"""The listening socket: taking new connections, and what to do when the process has no
file descriptor left for one.

Every connection needs a file descriptor, and a process has a fixed number of them
(RLIMIT_NOFILE, ``--limit-files``). When they are all in use, ``accept`` fails with
EMFILE (ENFILE: the whole system is out) and the connection stays in the kernel's
backlog. The listening socket is still readable, so a loop that simply tries again is
woken at once, fails again, and spins: a full core and a log line per failure, while
the clients in the backlog wait with no answer.

So, as nginx, HAProxy and libuv do:

1. A **spare descriptor** is held from the start (``/dev/null``). On EMFILE it is
   released, which lets one ``accept`` succeed; that client gets a short 503 and is
   closed, and the spare is taken again. Repeated, this answers the backlog instead of
   leaving it hanging (counted in ``server.stats`` as ``refused_no_fd``).
2. Accepting then **pauses** for ``PAUSE_SECONDS``: the listener leaves the selector, so
   the loop sleeps instead of spinning, and serves the connections it has, whose ends
   free descriptors. It resumes by itself (``resume_if_due``).
3. It is **logged at most once a second**, with how many clients were refused since.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import time
from collections.abc import Callable
from typing import Final

from .capture import Stats
from .http import HTTPError
from .output import SERVER_NAME
from .pages import error_response
from .response import response_head

log = logging.getLogger("henaserver")

OUT_OF_DESCRIPTORS: Final = (errno.EMFILE, errno.ENFILE)
# Errors of one connection, not of the listener: Linux's accept(2) passes on network
# errors already pending on the new socket (its man page lists these), and a client can
# reset a connection while it waits in the backlog (ECONNABORTED). Like EAGAIN, they
# mean "nothing to take now"; the next connection is fine. Python's asyncio and nginx
# skip the same. Any other error is the server's own and is raised.
ONE_CONNECTION_FAILED: Final = frozenset(
    getattr(errno, name) for name in (
        "ECONNABORTED", "EPROTO", "ENETDOWN", "ENOPROTOOPT", "EHOSTDOWN", "ENONET",
        "EHOSTUNREACH", "EOPNOTSUPP", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "EPERM")
    if hasattr(errno, name))
# How long accepting pauses after running out: long enough that the loop does not spin,
# short enough that a freed descriptor is used soon. The loop wakes at least every
# TICK_SECONDS (0.5 s), so the pause lasts 0.5 to 1 s.
PAUSE_SECONDS: Final = 0.5
# Clients refused through the spare descriptor per wake-up (each costs ~50 us): a full
# backlog (1,024) is answered in four wake-ups, so a client at its end waits about 2 s,
# not the many seconds a smaller batch took, and one wake-up stays near 10 ms.
REFUSE_BATCH: Final = 256
LOG_EVERY_SECONDS: Final = 1.0


class Admission:
    """Accepts connections on ``listener`` for the loop that owns ``selector``."""

    def __init__(self, listener: socket.socket, selector: selectors.BaseSelector,
                 stats: Stats, http_date: Callable[[], str]) -> None:
        self.listener = listener
        self.selector = selector
        self.stats = stats
        self.http_date = http_date
        self.resume_at: float | None = None  # None: the listener is in the selector
        self._spare = _take_spare()
        self._unlogged = 0  # clients refused since the last log line
        self._logged_at = -LOG_EVERY_SECONDS
        self._why = ""  # the last error, as the OS words it
        selector.register(listener, selectors.EVENT_READ, "accept")

    def accept(self) -> tuple[socket.socket, tuple[str, int]] | None:
        """One new connection, or None when there is none to take now."""
        if self.resume_at is not None:
            return None
        try:
            return self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            if error.errno in ONE_CONNECTION_FAILED:
                return None  # that client is gone; the listener stays readable if more wait
            if error.errno not in OUT_OF_DESCRIPTORS:
                raise
            self._out_of_descriptors(error.errno)
            return None

    def resume_if_due(self, now: float) -> None:
        """Called by the loop on every turn: accept again once the pause is over."""
        if self.resume_at is not None and now >= self.resume_at:
            self.resume_at = None
            if self._spare is None:
                self._spare = _take_spare()
            self.selector.register(self.listener, selectors.EVENT_READ, "accept")
            self._log(now, force=True)

    def close(self) -> None:
        if self.resume_at is None:
            self.selector.unregister(self.listener)
        self.listener.close()
        if self._spare is not None:
            os.close(self._spare)

    def _out_of_descriptors(self, number: int) -> None:
        now = time.monotonic()
        refused = self._refuse_waiting()
        self.stats.refused_no_fd += refused
        self._unlogged += refused
        self.selector.unregister(self.listener)
        self.resume_at = now + PAUSE_SECONDS
        self._why = os.strerror(number)
        self._log(now)

    def _refuse_waiting(self) -> int:
        """Answer 503 to clients waiting in the backlog, one through the spare at a time."""
        refused = 0
        while self._spare is not None and refused < REFUSE_BATCH:
            os.close(self._spare)
            try:
                sock, _ = self.listener.accept()
            except OSError:  # the backlog is empty, or the freed descriptor was taken
                sock = None
            if sock is not None:
                self._refuse(sock)
                refused += 1
            self._spare = _take_spare()
            if sock is None:
                break
        return refused

    def _refuse(self, sock: socket.socket) -> None:
        """A short 503 and close; whatever fails, the descriptor is given back."""
        error = HTTPError(503, "the server has no file descriptor left for a new "
                               "connection; try again", headers=(("Retry-After", "1"),))
        response = error_response(error)
        head = response_head(503, [("Date", self.http_date()), ("Server", SERVER_NAME),
                                   *response.headers, ("Connection", "close")])
        with sock, contextlib.suppress(OSError):
            sock.setblocking(False)
            # Read what the client already sent: closing with unread input sends a
            # reset, which can destroy the answer before the client reads it.
            with contextlib.suppress(BlockingIOError):
                sock.recv(65536)
            sock.send(head + response.body)  # a few hundred bytes: the buffer takes them
            sock.shutdown(socket.SHUT_WR)

    def _log(self, now: float, *, force: bool = False) -> None:
        """At most one line a second, however often descriptors run out (``force``: only
        to report clients refused since the last line, if any)."""
        if now - self._logged_at < LOG_EVERY_SECONDS or (force and not self._unlogged):
            return
        self._logged_at = now
        log.warning("out of file descriptors (%s): %d new connection(s) answered 503 "
                    "since the last line; accepting pauses %gs at a time until some are "
                    "free", self._why, self._unlogged, PAUSE_SECONDS)
        self._unlogged = 0


def _take_spare() -> int | None:
    """The descriptor kept in reserve; None if even that one is not available now."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
