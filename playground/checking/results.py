"""What a check run produces, and the two exceptions a check may raise: the bottom of
the package (every other module of it imports these; they import nothing of it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from playground.refusals import Message


@dataclass(frozen=True)
class Target:
    """The server under check: where it listens, the folder it serves "/" from (the
    generated files go there), and its console tail, given when it died (else "")."""

    host: str
    port: int
    docroot: str
    console: Callable[[], str] = field(default=lambda: "", compare=False)


@dataclass(frozen=True)
class Sent:
    """One request a check sent: its exchange in the traffic is the one whose client port
    is ``local_port`` and whose ``conn_index`` is ``index`` (0: the first on it)."""

    local_port: int
    index: int


@dataclass(frozen=True)
class Failure:
    """What went wrong, as a learner can act on it (docs/checks.md)."""

    message: Message
    expected: str = ""          # as text; CR and LF shown as "\r" and "\n"
    received: bytes = b""       # the bytes around the failure (at most 2 KiB)
    sent: Sent | None = None    # the exchange that shows it (None: e.g. refused)
    side: str = "response"      # "request" | "response": what ``offset`` counts in
    offset: int | None = None   # the byte, from the start of that message
    hint: str = ""              # a key of hints.HINTS, or ""
    console: str = ""           # the server's console when it died meanwhile


@dataclass(frozen=True)
class Outcome:
    """One check's result."""

    stage: int
    check: str                  # the check's slug, unique within its stage
    label: str                  # "4.2": stage and the check's place in it
    title: Message
    passed: bool
    failure: Failure | None
    sent: tuple[Sent, ...]
    seconds: float


class CheckFailed(Exception):
    """Raised anywhere inside a check (client reads, helpers) to fail it with
    ``failure``; the engine turns it into the check's Outcome."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure.message))
        self.failure = failure


class Cancelled(Exception):
    """The run was stopped while a check was waiting: the check is not reported."""
