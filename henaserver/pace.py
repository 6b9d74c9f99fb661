"""How slow a client may be, and whom to close when the server is full: pure decisions.

A slow client costs a connection slot for as long as it takes. Slowloris sends a request
head a few bytes at a time, a slow POST does the same with a body; one thread serves
everyone here, so a waiting slot costs almost no CPU, but slots are bounded
(``Limits.max_connections``) and a client holding all of them shuts everyone else out.
Two rules keep the slots moving; both are pure functions below, so they can be read and
tested on their own (``Connection.check_timeout`` and ``Server`` apply them).

1. **A request must keep a pace** (``too_slow``). The head has a deadline for the whole of
   it (``header_timeout``), counted from its first byte: a timeout per read is what
   slowloris defeats, one byte every 9 s renews a 10 s read timeout forever. And once a
   request has been arriving for ``rate_grace`` seconds, it must average at least
   ``min_rate`` bytes a second since its first byte, head and body together. A body has
   no deadline of its own: its size is bounded (``max_body_bytes``), so the rate bounds
   its time, and a big upload over a slow but honest link is not cut. Apache's
   mod_reqtimeout has the same two knobs (a timeout and a MinRate).

2. **A full server makes room** (``room_rank``). A new connection that finds every slot
   taken does not get a 503 while a slot is held by someone who is only waiting: the
   server closes the connection that has waited on its client the longest, of the kind
   cheapest to lose first:

   - rank 0: a connection that has not finished its first request, or whose next head
     has begun, or whose body has not yet shown ``min_rate`` for ``PROVEN_AFTER``: what
     slow attacks look like; a real client's head arrives in one packet;
   - rank 1: an idle keep-alive connection answered before: a real client, but one that
     may be closed at any time (RFC 9112 section 9.5) and simply reconnects.

   Never closed to make room: a connection waiting on the server's own answer (output
   queued), one lingering after its final answer, or one receiving a body that has
   kept a fair rate. If every connection is like that, the newcomer gets a 503 after all.
"""

from __future__ import annotations

from typing import Final

from .exchange import ExchangeRecord
from .limits import Limits

# How long an upload must have kept min_rate before it is safe from being closed to make
# room. A young one is not, because its head's bytes alone look like a fair rate for the
# first few milliseconds: a flood of fresh slow POSTs would otherwise hold every slot.
PROVEN_AFTER: Final = 0.5


def too_slow(request: ExchangeRecord, received: int, now: float,
             limits: Limits) -> str | None:
    """Why a request still arriving is too slow to wait for any longer (answered 408),
    or None. ``received``: its bytes so far."""
    assert request.first_byte is not None
    elapsed = now - request.first_byte
    if request.head_complete is None and elapsed > limits.header_timeout:
        return f"the request head did not arrive within {limits.header_timeout:g} seconds"
    if elapsed > limits.rate_grace and below_rate(received, elapsed, limits):
        part = "head" if request.head_complete is None else "body"
        return (f"the request {part} arrived at {received / elapsed:.0f} bytes per second, "
                f"below the minimum of {limits.min_rate}")
    return None


def below_rate(received: int, elapsed: float, limits: Limits) -> bool:
    return received < limits.min_rate * elapsed


def room_rank(*, busy: bool, answered_before: bool, request: ExchangeRecord | None,
              received: int, waiting_since: float, now: float,
              limits: Limits) -> tuple[int, float] | None:
    """Where a connection stands in the line to be closed when the server is full: the
    smallest (rank, waiting since) goes first; None: never closed to make room.

    ``busy``: the server owes it an answer or is closing it. ``request``: the one
    arriving (None, or no first byte: nothing yet), which has brought ``received``
    bytes. ``waiting_since``: when the connection began waiting on its client
    (accepted, or its last answer ended)."""
    if busy:
        return None
    if request is not None and request.first_byte is not None:
        if request.head_complete is None:
            return 0, waiting_since
        elapsed = now - request.first_byte
        if elapsed >= PROVEN_AFTER and not below_rate(received, elapsed, limits):
            return None  # an upload that has kept a fair rate
        return 0, waiting_since
    return (1 if answered_before else 0), waiting_since
