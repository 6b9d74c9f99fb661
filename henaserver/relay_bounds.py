"""The relay's bounds: how long each thing may take and how many connections it keeps.

Without them a browser that trickles its request, a server that never accepts, or a
thousand idle keep-alive connections would each hold the relay's sockets for ever. The
rules are henaserver's where they apply (``--header-timeout``, ``--max-connections``:
``limits.py``, ``pace.py``), and what only a relay meets has its own (a connect that
hangs, a server that does not answer). ``check`` runs for every connection on each tick
of the relay's loop (``relay.TICK_SECONDS``).
"""

from __future__ import annotations

from . import responses as named
from .relay_connection import MAX_BUFFER, MAX_WAITING, RelayedConnection
from .relay_events import ExchangeWaiting
from .relay_exchange import Waiting, relay_error


def check(pair: RelayedConnection, now: float) -> None:
    """Every bound of one connection, at wall-clock time ``now``."""
    if pair.closed:  # closed earlier in the same tick (to make room, say)
        return
    limits = pair.host.limits
    if pair.held is not None and now >= pair.held[2]:
        pair._release_held()
    if not pair.connected and not pair.refused:
        if now - pair.accepted >= limits.connect_timeout:
            not_accepted(pair, limits.connect_timeout)
        return
    if pair.to_client and now - pair.last_sent >= limits.idle_timeout:
        pair._close("client not reading")  # else a browser that never reads holds it
        return
    for record in pair.waiting:
        if (not record.announced and record.request_complete is not None
                and record.response_start is None
                and now - record.request_complete >= limits.waiting_after):
            record.announced = True
            announce(pair, record)
    if pair.closing is not None:
        return  # answered already (504, 502, 408): its last bytes are on their way
    if pair.waiting and pair.waiting[0].request_complete is not None:
        # While bytes wait for the browser the relay does not read the server (back-
        # pressure): the browser is the slow one then, not the server.
        since = max(pair.waiting[0].request_complete, pair.last_upstream, pair.last_sent)
        if not pair.to_client and now - since >= limits.response_timeout:
            never_answered(pair, now)
        return
    partial = pair.parser.has_partial_request and not pair.raw_requests
    if (partial and pair.head_time is None and pair.first_byte is not None
            and now - pair.first_byte >= limits.header_timeout):
        head_too_slow(pair, now, limits.header_timeout)
    elif not pair.waiting:
        # Nothing owed either way: else a peer that never closes holds it for ever.
        quiet = now - max(pair.last_client, pair.last_upstream)
        if quiet >= limits.idle_timeout and not pair.to_client:
            if partial:
                pair._client_closed_partial(now, "timed_out", "the request stopped "
                                            f"arriving for {quiet:.0f} s")
            pair._close("idle timeout")


def owes_nothing(pair: RelayedConnection) -> bool:
    """Nothing to answer, nothing to deliver, nothing begun: closing it loses nothing
    (a browser opens a new connection for its next request). A held exchange is whole
    (closing releases it)."""
    return (pair.connected and not pair.waiting
            and not pair.to_client and not pair.to_upstream and pair.closing is None
            and not pair.parser.has_partial_request and not pair.raw_requests)


def make_room(pairs: list[RelayedConnection]) -> bool:
    """At ``max_connections``: close the pair quiet the longest that owes nothing;
    False if every one owes something (then the relay stops accepting for a while)."""
    idle = [pair for pair in pairs if owes_nothing(pair)]
    if not idle:
        return False
    min(idle, key=lambda p: max(p.last_client, p.last_upstream))._close("closed to make room")
    return True


def not_accepted(pair: RelayedConnection, seconds: float) -> None:
    """The connect did not complete: the server listens but does not accept (its
    backlog is full: busy with another connection?). 502 to the first request."""
    pair.refused = True
    pair.refusal = not_accepting(seconds)
    pair._answer_refused()
    pair.host.watch(pair)


def not_accepting(seconds: float | None) -> tuple[str, str, str]:
    """The refusal (reason, mistake, the 502's text) for a server that listens but does
    not accept: within ``seconds`` (TCP), or None: its queue was full (a Unix socket
    says so at once)."""
    within = "its queue of connections is full" if seconds is None else \
        f"within {seconds:g} s"
    return (f"the server did not accept the connection: {within}", named.NOT_ACCEPTING,
            f"The server did not accept the connection ({within}): is it busy with "
            f"another one?")


def head_too_slow(pair: RelayedConnection, now: float, seconds: float) -> None:
    """The browser's request head is not whole after ``seconds``: 408 from the relay,
    recorded as henaserver records it (``timed_out``), and the connection closes."""
    record = pair.partial_request()
    answer = relay_error(408, "Request Timeout", f"The request head did not arrive within "
                         f"{seconds:g} seconds.")
    pair.to_client += answer
    pair._emit(record, 408, "timed_out", f"the request head took longer than {seconds:g} s",
               answer, None, now)
    pair._close_after_flush("header timeout")


def announce(pair: RelayedConnection, record: Waiting) -> None:
    """A whole request forwarded, its answer not begun: ``exchange.waiting``."""
    head = record.request.head if record.request else None
    pair.host.stream(ExchangeWaiting(
        pair.id, record.index, head.method if head else None, head.target if head else None,
        round((record.request_complete or 0) * 1e6),
        round(pair.host.limits.response_timeout * 1000)))


def never_answered(pair: RelayedConnection, now: float) -> None:
    """No byte from the server for ``--response-timeout`` while a request waits: 504
    from the relay (``never_answered``), or, if it began an answer and stopped, what
    came is the answer: ``body_too_short`` if its length said more was to come,
    ``no_length_never_closed`` if it had no length (only a close could end it). The
    connection closes."""
    current = pair.waiting.popleft()
    mistake = named.NO_LENGTH_NEVER_CLOSED if pair.reader.until_close else \
        named.BODY_TOO_SHORT
    partial = pair.reader.partial()
    seconds = pair.host.limits.response_timeout
    if partial.length:  # it began an answer, then stopped: the browser got that much
        pair._emit(current, partial.status, "timed_out", f"no byte from the server "
                   f"for {seconds:g} s", partial.raw, mistake, now, partial.length)
    else:
        answer = relay_error(504, "Gateway Timeout", f"The server did not answer "
                             f"within {seconds:g} seconds (henaserver relay).")
        pair.to_client += answer  # the relay's own answer
        pair._emit(current, 504, "timed_out", f"no answer within {seconds:g} s",
                   answer, named.NEVER_ANSWERED, now)
    # Requests pipelined behind it are recorded as the connection closes (_close).
    pair._close_after_flush("response timeout")


def wants(pair: RelayedConnection) -> tuple[int, int]:
    """Which readiness the loop waits for on the pair's two sockets (back-pressure lives
    here): (client, upstream) flags, bit 1 read, bit 2 write. A side is not read while
    the buffer it fills is full (or, the browser, while MAX_WAITING requests wait)."""
    client = ((not pair.client_eof and len(pair.to_upstream) < MAX_BUFFER
               and len(pair.waiting) < MAX_WAITING)
              | (bool(pair.to_client) << 1))
    if not pair.connected:
        return client, (0 if pair.refused else 2)
    upstream = ((not pair.upstream_eof and len(pair.to_client) < MAX_BUFFER)
                | (bool(pair.to_upstream) << 1))
    return client, upstream
