"""A queue bounded by bytes, for the ingest writer (ingest.py).

Bounded by bytes, not items, because items vary from a 300-byte event to one holding two
64 KiB bodies: a count bound is either too small for small events or lets big ones take
gigabytes. At the bound, ``put`` waits for room: the producer (a supervisor thread
reading a child's pipe) stops reading, and the child's own capture queue does the
dropping, where it is counted (docs/events.md). Control items never wait and are not
counted: they are few and tiny, and waiting for them could deadlock a view.

Memory: what the writer took for its current batch no longer counts, so the queue and
the batch being written together hold at most the capacity plus the batch's own bound
(``get_batch``'s ``max_bytes``).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any


class ByteQueue:
    """FIFO of (item, size); ``put`` blocks while the queued sizes exceed ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: collections.deque[tuple[Any, int]] = collections.deque()
        self._bytes = 0
        self._closed = False
        self._changed = threading.Condition()

    def put(self, item: Any, size: int) -> None:
        """Append, waiting while the queue holds ``capacity`` bytes or more (an item
        larger than the whole capacity still goes in, alone). After ``close`` items are
        discarded: the writer is gone (the process is ending)."""
        with self._changed:
            while self._bytes and self._bytes + size > self.capacity and not self._closed:
                self._changed.wait()
            if self._closed:
                return
            self._items.append((item, size))
            self._bytes += size
            self._changed.notify_all()

    def put_control(self, item: Any) -> None:
        """Append without waiting and without counting (rare, small items)."""
        with self._changed:
            self._items.append((item, 0))
            self._changed.notify_all()

    def get_batch(self, limit: int, quiet: float, max_age: float,
                  max_bytes: int | None = None) -> list[Any]:
        """Wait for one item, then take more until ``limit`` items, ``max_bytes`` of
        them (the item that reaches it included), ``quiet`` seconds with nothing new, or
        ``max_age`` seconds since the first."""
        batch: list[Any] = []
        taken = 0
        with self._changed:
            while not self._items:
                self._changed.wait()
            began = time.monotonic()
            while len(batch) < limit and (max_bytes is None or taken < max_bytes):
                if self._items:
                    item, size = self._items.popleft()
                    self._bytes -= size
                    taken += size
                    batch.append(item)
                    continue
                self._changed.notify_all()  # room for waiting producers
                remaining = began + max_age - time.monotonic()
                if remaining <= 0 or not self._changed.wait(min(quiet, remaining)):
                    break
            self._changed.notify_all()
        return batch

    def close(self) -> None:
        """No more items will be read: producers stop waiting (their items are lost)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def queued_bytes(self) -> int:
        return self._bytes
