"""What a check is, and what it gets: ``Check``, ``Stage`` and ``Context`` (the check's
target, files, deadline, and ``connect()``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playground.refusals import Message, gettext_noop

from .client import Conn
from .inputs import GeneratedFiles
from .results import CheckFailed, Failure, Sent, Target

REFUSED = gettext_noop("Nothing is listening on port %(port)s: the connection was "
                       "refused.")
CONNECT_FAILED = gettext_noop("Could not connect to port %(port)s: %(error)s")


@dataclass(frozen=True)
class Check:
    """One check: ``run`` returns None when it passes, else the Failure (or raises
    CheckFailed). ``title`` is a msgid (gettext_noop)."""

    slug: str
    title: str
    run: Callable[[Context], Failure | None]
    timeout: float = 5.0


@dataclass(frozen=True)
class Stage:
    """One stage of the list in stages.py: titles are msgids, ``rfc`` pairs a label
    ("RFC 9112 §2.1") with its URL."""

    number: int
    slug: str
    title: str
    summary: str
    rfc: tuple[tuple[str, str], ...]
    checks: tuple[Check, ...]


class Context:
    """What a check gets: the target, the run's generated files, its deadline, and
    ``connect()``, which announces each new connection (``on_connect``) before a byte
    is sent on it, so the site can tag its exchanges with the check's label."""

    def __init__(self, target: Target, files: GeneratedFiles, *, stage: int, label: str,
                 deadline: float, on_connect: Callable[[int, int, str], None],
                 cancelled: threading.Event, shared: dict[str, Any]) -> None:
        self.target = target
        self.files = files
        self.stage = stage
        self.label = label
        self.deadline = deadline
        self.cancelled = cancelled
        # Results that later checks of the same run reuse (e.g. stages 1-3 judge one
        # exchange, so a server that answers only once still shows stages 2 and 3).
        self.shared = shared
        self.sent: list[Sent] = []
        self._on_connect = on_connect
        self._conns: list[Conn] = []

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def connect(self) -> Conn:
        """A new connection to the target, or CheckFailed (refused, unreachable)."""
        port = self.target.port
        try:
            sock = socket.create_connection((self.target.host, port),
                                            timeout=max(0.1, min(self.remaining(), 5.0)))
        except ConnectionRefusedError:
            raise CheckFailed(Failure(Message(REFUSED, port=port))) from None
        except OSError as error:
            raise CheckFailed(Failure(Message(CONNECT_FAILED, port=port,
                                              error=error.strerror or str(error)))) from None
        local_port = sock.getsockname()[1]
        self._on_connect(local_port, self.stage, self.label)
        conn = Conn(sock, local_port, self)
        self._conns.append(conn)
        return conn

    def record(self, sent: Sent) -> None:
        """Count ``sent`` among the check's requests (Conn does it for its own)."""
        if sent not in self.sent:
            self.sent.append(sent)

    def close_all(self) -> None:
        for conn in self._conns:
            conn.close()
