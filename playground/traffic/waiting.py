"""Requests the capture relay announced as still waiting for their answer
(``exchange.waiting``, docs/events.md), per sandbox, in the ingesting process's memory.

Never stored: "no response yet" is a state, not history. But a page must lose the row
whichever way the answer reaches it (pushed, or only counted as ``not_pushed`` under a
flood, or refused by the database), and a page opened while a request waits must see
it. So the ingest writer keeps the open announcements here: each batch's exchanges
settle the ones they answer (their keys go to viewers as ``answered``), and a viewer
that connects gets the rest (``TrafficConsumer.connect``). Bounded: the newest
``KEEP`` per sandbox, each dropped ``LATE_US`` past the relay's own timeout (the relay
stopped: its 504 will never come), and a sandbox's all at its next run or its stop.

henaserver's ``exchange.progress`` (a rule's response sent over time) opens a row too,
and each next one adds its bytes to it (``grow``: at most messages.PROGRESS_PREVIEW),
so a viewer that arrives mid-stream sees the response so far.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import OrderedDict
from typing import Any

KEEP = 64  # per sandbox: the relay lets 32 wait per connection; a page shows a few
LATE_US = 30_000_000  # as the page (traffic-relay.js): 30 s past the relay's timeout

Key = tuple[int, int]  # (conn, index): the exchange that ends it has the same


class WaitingBoard:
    """Written by the ingest writer, read by consumers on the event loop: locked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, OrderedDict[Key, dict[str, Any]]] = {}

    def settle(self, sid: int, exchanges: list[dict[str, Any]],
               announced: list[dict[str, Any]]) -> list[dict[str, int]]:
        """A batch of sandbox ``sid``: ``announced`` (messages.waiting_item) open rows,
        then ``exchanges`` (events) end theirs. Returns the ends of rows this board had
        open, ``[{"conn", "index"}]`` (at most KEEP: a flood's thousands of exchanges
        cost a set lookup each, and only announced ones are sent)."""
        if not announced and sid not in self._open:
            return []  # the usual case (henaserver, or a relay answering fast)
        with self._lock:
            rows = self._open.setdefault(sid, OrderedDict())
            for item in announced:
                if item["conn"] is None or item["index"] is None:
                    continue  # not a row the page could end either
                key = (item["conn"], item["index"])
                rows[key] = grow(rows.get(key), item)
                while len(rows) > KEEP:
                    rows.popitem(last=False)
            ended = []
            for event in exchanges:
                key = (event.get("conn"), event.get("index"))
                if rows.pop(key, None) is not None:  # type: ignore[arg-type]
                    ended.append({"conn": key[0], "index": key[1]})
            self._expire(sid, rows)
            return ended

    def now(self, sid: int) -> list[dict[str, Any]]:
        """The rows still open for a viewer that just arrived, oldest first."""
        with self._lock:
            rows = self._open.get(sid)
            if rows is None:
                return []
            self._expire(sid, rows)
            return list(rows.values())

    def forget(self, sid: int) -> None:
        """A new run, or the sandbox stopped: nothing its relay was asked is owed."""
        with self._lock:
            self._open.pop(sid, None)

    def _expire(self, sid: int, rows: OrderedDict[Key, dict[str, Any]]) -> None:
        now_us = time.time() * 1e6
        for key, item in list(rows.items()):
            since, timeout = item.get("since_us"), item.get("timeout_ms")
            if since is not None and timeout is not None \
                    and now_us > since + timeout * 1000 + LATE_US:
                del rows[key]
        if not rows:
            del self._open[sid]


def grow(row: dict[str, Any] | None, item: dict[str, Any]) -> dict[str, Any]:
    """A row as it stands after ``item``: a progress item's bytes join those of the row
    (the whole so far, from offset 0) when they start where those end."""
    if row is None or "sent" not in item or "data_b64" not in row:
        return item
    have = base64.b64decode(row["data_b64"])
    add = base64.b64decode(item["data_b64"])
    if item["offset"] == len(have):
        have += add
    return {**item, "offset": 0, "data_b64": base64.b64encode(have).decode("ascii")}
