"""Check that capture accounted for every exchange the load generator saw.

wrk counts the responses it received. Every one of them must be in the events file
as an `exchange` event, or be covered by the server's own `dropped` counter
(docs/events.md: "Nothing is dropped silently").
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EventsSummary:
    lines: int = 0
    bad_lines: int = 0
    exchanges: int = 0                  # `exchange` events in the file
    outcomes: Counter[str] = field(default_factory=Counter)
    dropped_total: int = 0              # from events.dropped / the last server.stats
    stats_exchanges: int | None = None  # the server's own count, last server.stats
    stopping: bool = False              # the final server.stopping event was written
    size_bytes: int = 0

    def verdict(self, client_responses: int, in_flight_allowance: int) -> tuple[bool, str]:
        """Consistent if file + drops cover the server's count, and the server's count
        covers what wrk received. The server may count a few more than wrk: when wrk
        stops, it closes connections with requests still in flight
        (in_flight_allowance = connections x wrk runs)."""
        notes = []
        ok = True
        served = self.stats_exchanges
        if served is None:
            notes.append("no server.stats event: cannot compare with the server's count")
            served = self.exchanges
            ok = False
        if self.exchanges + self.dropped_total < served:
            ok = False
            notes.append(f"{served - self.exchanges - self.dropped_total} exchanges "
                         "missing from the file and not counted as dropped")
        if self.dropped_total == 0 and self.exchanges != served:
            ok = False
            notes.append(f"file has {self.exchanges} exchanges, server counted {served}")
        extra = served - client_responses
        if not 0 <= extra <= in_flight_allowance:
            ok = False
            notes.append(f"server counted {served}, clients received {client_responses} "
                         f"(difference {extra}, allowed 0..{in_flight_allowance})")
        if not self.stopping:
            notes.append("no server.stopping event at the end of the file")
        return ok, "; ".join(notes) or "consistent"


def summarise(path: Path) -> EventsSummary:
    """Read a JSON-lines events file written by `henaserver --events PATH`."""
    s = EventsSummary()
    if not path.exists():
        return s
    s.size_bytes = path.stat().st_size
    with path.open("rb") as f:
        for raw in f:
            s.lines += 1
            try:
                event = json.loads(raw)
            except ValueError:
                s.bad_lines += 1
                continue
            kind = event.get("type")
            if kind == "exchange":
                s.exchanges += 1
                s.outcomes[str(event.get("outcome"))] += 1
            elif kind == "events.dropped":
                s.dropped_total = max(s.dropped_total, int(event.get("total", 0)))
            elif kind == "server.stats":
                s.stats_exchanges = int(event.get("exchanges", 0))
                s.dropped_total = max(s.dropped_total, int(event.get("dropped", 0)))
            elif kind == "server.stopping":
                s.stopping = True
    return s
