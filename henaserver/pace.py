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
   request has been arriving for ``rate_grace`` seconds, it must keep at least
   ``min_rate`` bytes a second over its recent past (``RecentRate``: the last
   ``rate_grace`` to 2 x ``rate_grace`` seconds), head and body together. Recent, not
   since the first byte: an average from the start let a client send 100 KiB at once
   and then nothing hold its slot for 100 s at 1 KiB/s. A body has no deadline of its
   own: its size is bounded (``max_body_bytes``) and it must keep arriving, so a big
   upload over a slow but honest link is not cut. Apache's mod_reqtimeout has the same
   two knobs (a timeout and a MinRate).

2. **A full server makes room** (``room_rank``). A new connection that finds every slot
   taken does not get a 503 while a slot is held by someone who is only waiting: the
   server closes a connection waiting on its client, of the kind cheapest to lose first
   (the server keeps them in lines, the longest waiting first; see ``server.py``):

   - rank 0: a connection that has not finished its first request, or whose next head
     has begun, or whose body has not kept ``min_rate`` recently (or for less than
     ``PROVEN_AFTER``): what slow attacks look like; a real client's head arrives in
     one packet;
   - rank 1: an idle keep-alive connection answered before: a real client, but one that
     may be closed at any time (RFC 9112 section 9.5) and simply reconnects.

   Never closed to make room: a connection waiting on the server's own answer (output
   queued), one lingering after its final answer, or one receiving a body that keeps a
   fair rate. If every connection is like that, the newcomer gets a 503 after all.

   A download is not bounded here: a client that reads its answer slowly holds its slot
   while it reads at least a byte every ``send_timeout`` seconds (as nginx's
   send_timeout). Its cost is the slot and a socket buffer, not the server's time. A
   minimum send rate would need what the client has read, not what the kernel took: a
   send buffer of megabytes is refilled only in large steps (the socket is writable
   again once a third of it is free), so an honest reader at 2 KiB/s shows no progress
   for many minutes at a time.
"""

from __future__ import annotations

from typing import Final

from .exchange import ExchangeRecord
from .limits import Limits

# How long an upload must have kept min_rate before it is safe from being closed to make
# room. A young one is not, because its head's bytes alone look like a fair rate for the
# first few milliseconds: a flood of fresh slow POSTs would otherwise hold every slot.
PROVEN_AFTER: Final = 0.5


class RecentRate:
    """The bytes a request has brought over its recent past: two marks (time, bytes
    received then), the newer one moved on every ``rate_grace`` seconds, so the span
    from the older mark to now is always between ``rate_grace`` and twice that (or the
    whole request, while it is younger). ``received``, here and below, is a count that
    grows as the request arrives (a connection's bytes in); ``before``: it at the start."""

    __slots__ = ("older", "newer")

    def __init__(self, first_byte: float, before: int = 0) -> None:
        self.older = self.newer = (first_byte, before)

    def slide(self, received: int, now: float, grace: float) -> None:
        """Called on every sweep: start a new span once the newer mark is ``grace`` old."""
        if now - self.newer[0] >= grace:
            self.older, self.newer = self.newer, (now, received)

    def below(self, received: int, now: float, min_rate: int) -> bool:
        """Whether fewer than ``min_rate`` bytes a second came since the older mark."""
        since, then = self.older
        return received - then < min_rate * (now - since)

    def stalled(self, received: int, now: float, min_rate: int) -> bool:
        """Below the rate since the newer mark too, once that is ``PROVEN_AFTER`` old: a
        body that stops is seen at once, not only when its older mark moves on."""
        since, then = self.newer
        return now - since >= PROVEN_AFTER and received - then < min_rate * (now - since)


def too_slow(request: ExchangeRecord, received: int, rate: RecentRate, now: float,
             limits: Limits) -> str | None:
    """Why a request still arriving is too slow to wait for any longer (answered 408),
    or None. ``received``: see RecentRate; ``rate``: the request's recent past."""
    assert request.first_byte is not None
    elapsed = now - request.first_byte
    if request.head_complete is None and elapsed > limits.header_timeout:
        return f"the request head did not arrive within {limits.header_timeout:g} seconds"
    if elapsed > limits.rate_grace and rate.below(received, now, limits.min_rate):
        part = "head" if request.head_complete is None else "body"
        since, then = rate.older
        return (f"the request {part} arrived at {(received - then) / (now - since):.0f} "
                f"bytes per second over the last {now - since:.1f} seconds, below the "
                f"minimum of {limits.min_rate}")
    return None


def room_rank(*, busy: bool, answered_before: bool, request: ExchangeRecord | None,
              received: int, rate: RecentRate | None, now: float,
              limits: Limits) -> int | None:
    """Where a connection stands in the line to be closed when the server is full: rank 0
    goes before rank 1; None: never closed to make room.

    ``busy``: the server owes it an answer or is closing it. ``request``: the one
    arriving (None, or no first byte: nothing yet); ``received`` and ``rate``: its
    bytes and their recent past (``RecentRate``)."""
    if busy:
        return None
    if request is not None and request.first_byte is not None:
        if request.head_complete is None or rate is None:
            return 0
        if now - request.first_byte < PROVEN_AFTER:
            return 0  # too young to tell from a slow POST
        if rate.below(received, now, limits.min_rate) \
                or rate.stalled(received, now, limits.min_rate):
            return 0
        return None  # an upload that keeps a fair rate
    return 1 if answered_before else 0
