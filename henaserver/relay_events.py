"""The events only the capture relay sends (docs/events.md ``stream`` and
``exchange.waiting``), and its limits (``relay_bounds.py`` applies them). Kept here so
``capture.py``, which writes every event, stays about henaserver's own; its one
serializer handles these too (``capture.Event``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, NamedTuple

from .limits import DEFAULT_LIMITS, KiB


class Stream(NamedTuple):  # relayed bytes that are not HTTP, kept as they are
    conn: int
    direction: str  # "to_server" or "to_client"
    reason: str
    data: bytes
    length: int
    truncated: bool
    type: str = "stream"


class ExchangeWaiting(NamedTuple):  # relay: a request forwarded, its answer not begun
    conn: int
    index: int  # type: ignore[assignment]  # as in docs/events.md; shadows tuple.index
    method: str | None
    target: str | None
    since: int  # microseconds: when the request was whole
    timeout_ms: int  # the relay's --response-timeout, in milliseconds
    type: str = "exchange.waiting"


@dataclass(frozen=True)
class RelayLimits:
    # A whole request not answered for this long (from its end or the server's last
    # byte): 504 from the relay (never_answered).
    response_timeout: float = 10.0
    # Nothing owed either way and no byte in either direction: closed.
    idle_timeout: float = 60.0
    # A request head begun and not whole after this long: 408 from the relay, as
    # henaserver's own --header-timeout (a browser that trickles its head).
    header_timeout: float = 10.0
    # A connect to the server that has not completed: the server listens but does not
    # accept (its backlog is full): 502 from the relay (not_accepting).
    connect_timeout: float = 5.0
    # Open browser connections (each holds two sockets). At the limit a new one makes
    # room by closing the quietest that owes nothing; with none, accepting waits.
    max_connections: int = 256
    # A request whose answer has not begun this long after it was forwarded is
    # announced (``exchange.waiting``), so the page can show it ticking. Not at once:
    # most answers come within milliseconds, and an event per request costs throughput.
    waiting_after: float = 1.0


# The request parser's limits for a recorder. henaserver's own (limits.py) bound what it
# serves: it must hold a body to answer it. The relay serves nothing: it forwards every
# byte and keeps a body only up to the body cap (RequestParser.keep_body), so a body has
# no size limit here (a 5 MB upload is one exchange, not "not a request henaserver can
# read"), and a head may be as long as the response reader's (responses.MAX_HEAD): a
# learner's server may well accept what henaserver would refuse.
RECORDING: Final = replace(DEFAULT_LIMITS, max_body_bytes=2**62,
                           max_request_line=64 * KiB, max_head_bytes=64 * KiB,
                           max_header_count=1000)
