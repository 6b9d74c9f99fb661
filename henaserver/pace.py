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
   request, head or body, has been arriving for ``rate_grace`` seconds, it must average
   at least ``min_rate`` bytes a second since it began. A body has no deadline of its
   own: its size is bounded (``max_body_bytes``), so the rate bounds its time, and a big
   upload over a slow but honest link is not cut. Apache's mod_reqtimeout has the same
   two knobs (a timeout and a MinRate).

2. **A full server makes room** (``room_rank``). A new connection that finds every slot
   taken does not get a 503 while a slot is held by someone who is only waiting: the
   server closes the connection that has waited on its client the longest, of the kind
   cheapest to lose first:

   - rank 0: a connection that has not finished its first request, or whose next head
     has begun, or whose body arrives below ``min_rate``: what slow attacks look like;
     a real client's head arrives in one packet;
   - rank 1: an idle keep-alive connection answered before: a real client, but one that
     may be closed at any time (RFC 9112 section 9.5) and simply reconnects.

   Never closed to make room: a connection waiting on the server's own answer (output
   queued), one lingering after its final answer, or one receiving a body at a fair
   rate. If every connection is like that, the newcomer gets a 503 after all.
"""

from __future__ import annotations

from typing import Literal

from .limits import Limits

Part = Literal["head", "body"]


def too_slow(first_byte: float, head_complete: float | None, received: int, now: float,
             limits: Limits) -> str | None:
    """Why a request that began at ``first_byte`` (its head complete at
    ``head_complete``, or not yet: None) is too slow to wait for any longer (answered
    408), or None. ``received``: the bytes of the part now arriving (head or body)."""
    part, started = arriving(first_byte, head_complete)
    elapsed = now - started
    if part == "head" and elapsed > limits.header_timeout:
        return f"the request head did not arrive within {limits.header_timeout:g} seconds"
    if elapsed > limits.rate_grace and below_rate(received, elapsed, limits):
        return (f"the request {part} arrived at {received / elapsed:.0f} bytes per second, "
                f"below the minimum of {limits.min_rate}")
    return None


def arriving(first_byte: float, head_complete: float | None) -> tuple[Part, float]:
    """Which part of a request is arriving, and since when."""
    return ("body", head_complete) if head_complete is not None else ("head", first_byte)


def below_rate(received: int, elapsed: float, limits: Limits) -> bool:
    return received < limits.min_rate * elapsed


def room_rank(*, busy: bool, answered_before: bool, first_byte: float | None,
              head_complete: float | None, received: int, waiting_since: float,
              now: float, limits: Limits) -> tuple[int, float] | None:
    """Where a connection stands in the line to be closed when the server is full: the
    smallest (rank, waiting since) goes first; None: never closed to make room.

    ``busy``: the server owes it an answer or is closing it. ``first_byte`` and
    ``head_complete``: the times of the request arriving (None: nothing yet);
    ``received``: the bytes of the part now arriving. ``waiting_since``: when the
    connection began waiting on its client (accepted, or its last answer ended)."""
    if busy:
        return None
    if first_byte is not None:
        part, started = arriving(first_byte, head_complete)
        if part == "head":
            return 0, waiting_since
        # Judged from its start, with no grace: a grace would let a flood of fresh slow
        # bodies hold every slot for that long. A real upload is ahead of the rate from
        # its first packets (it needs 1 byte per ms at the default).
        if not below_rate(received, now - started, limits):
            return None  # an upload at a fair rate
        return 0, waiting_since
    return (1 if answered_before else 0), waiting_since
