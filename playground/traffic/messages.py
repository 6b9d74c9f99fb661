"""What one ingest batch tells a sandbox's viewers, bounded by bytes.

Under a flood one batch stores thousands of exchanges and the server logs a line for
each; the message that goes to the channel layer carries only the newest of them. The
bounds are in bytes as well as in items, because an item's size varies: a summary is
about 500 bytes, or 9 KB with an 8 KiB target; a console line is a short access-log
line, or a long one. A channel holds up to 100 messages per viewer
(InMemoryChannelLayer's capacity), so a message's bytes times 100 is what one slow
viewer can make the process hold.

What is left out is counted, never silently lost: the message says how many stored
rows it did not push (``not_pushed``: the history has them, the page loads them over
the list API) and how many console lines it skipped.
"""

from __future__ import annotations

import base64
import binascii
import collections
import json
from dataclasses import dataclass, field
from typing import Any

from ..models import Exchange
from . import exchanges

# Summaries pushed live per batch (the newest): pushing all of a flood's made 2 MB
# websocket frames (over daphne's limit) and 200 ms of event-loop lag (bench/flood.py).
LIVE_ITEMS = 50
LIVE_ITEM_BYTES = 64 * 1024  # their JSON, together (the newest one always goes)
CONSOLE_LINES = 100  # console lines per message; older ones in the same batch are counted
# Bytes of a growing response kept live (waiting.py) and pushed: a response being
# streamed is shown from its start up to here; its exchange, once whole, has the rest.
PROGRESS_PREVIEW = 16 * 1024
CONSOLE_BYTES = 32 * 1024  # their text, together (the newest one always goes)


@dataclass
class Pending:
    """What one batch brought for one sandbox."""

    exchanges: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)  # the relay's `stream`s
    waiting: list[dict[str, Any]] = field(default_factory=list)  # waiting_item()s
    lines: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=CONSOLE_LINES))
    lines_seen: int = 0
    committed: bool = False  # its rows or its count are in the database


@dataclass
class Lines:
    """Console lines waiting for the writer. Lines do not travel through the queue one by
    one (under a flood the access log is one line per request): they collect here and
    one wake-up item per batch tells the writer."""

    lines: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=CONSOLE_LINES))
    seen: int = 0


def waiting_item(event: dict[str, Any]) -> dict[str, Any]:
    """The relay's ``exchange.waiting`` event (docs/events.md) as the page's pending
    row: a whole request forwarded, no answer yet. Live only, never stored: the
    exchange that ends it (answered, or the relay's ``never_answered``) replaces it."""
    def short(name: str, limit: int) -> str | None:
        value = event.get(name)
        return value[:limit] if isinstance(value, str) else None

    def number(name: str) -> int | None:
        value = event.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    item = {"conn": number("conn"), "index": number("index"),
             "method": short("method", 40), "target": short("target", 1024),
             "since_us": number("since"), "timeout_ms": number("timeout_ms")}
    if event.get("type") == "exchange.progress":
        item.update(progress_fields(event.get("data_b64"), number("offset"), number("sent")))
    return item


def progress_fields(data_b64: Any, offset: int | None, sent: int | None) -> dict[str, Any]:
    """henaserver's ``exchange.progress`` (a paced response growing, docs/events.md): how
    much is sent, and the bytes it adds at ``offset``, cut at PROGRESS_PREVIEW bytes of
    the response: the page shows the response's beginning growing, the history the rest."""
    try:
        data = base64.b64decode(data_b64 or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        data = b""
    offset = offset or 0
    data = data[:max(0, PROGRESS_PREVIEW - offset)]
    return {"sent": sent or 0, "offset": offset,
            "data_b64": base64.b64encode(data).decode("ascii")}


def newest_summaries(rows: list[Exchange]) -> list[dict[str, Any]]:
    """Summaries of the newest ``rows``, oldest first, within LIVE_ITEMS and
    LIVE_ITEM_BYTES."""
    out: list[dict[str, Any]] = []
    budget = LIVE_ITEM_BYTES
    for row in reversed(rows[-LIVE_ITEMS:]):
        item = exchanges.summary(row)
        budget -= len(json.dumps(item))
        if out and budget < 0:
            break
        out.append(item)
    out.reverse()
    return out


def console(p: Pending) -> dict[str, Any]:
    """The newest console lines of a batch within CONSOLE_BYTES, and how many it skips."""
    lines: list[dict[str, str]] = []
    budget = CONSOLE_BYTES
    for line in reversed(p.lines):
        budget -= len(line["text"])
        if lines and budget < 0:
            break
        lines.append(line)
    lines.reverse()
    return {"console": lines, "console_skipped": p.lines_seen - len(lines)}
