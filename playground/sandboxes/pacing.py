"""How a response rule sends its answer over time: the learner's choice, checked before
it reaches henaserver's rules file (``send``, ``delay_ms``, ``every_ms``; henaserver's
``paced.py`` says what each does on the wire and bounds them the same way, a test keeps
the two in step), and the rule presets that show each one.

The playground never imports henaserver: the bounds are repeated here so the learner
gets a clear refusal on save, rather than a rules file henaserver ignores.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from ..refusals import Refusal

SENDS = ("whole", "drip", "chunked", "events")
MAX_DELAY_MS = 20_000
MAX_EVERY_MS = 5_000
MAX_TOTAL_MS = 120_000
MAX_PIECES = 1000
EVENT = re.compile(rb".*?(?:\r?\n\r?\n|\r\r|\Z)", re.S)  # as paced.EVENT
HEAD_END = re.compile(rb"\n\r?\n")  # as henaserver's http.find_head_end


def parse_pace(row: dict[str, Any], number: int, data: bytes) -> dict[str, Any]:
    """A rule row's ``send``, ``delay_ms`` and ``every_ms``, checked against ``data``
    (the raw response): ``{}`` for an answer sent at once, as before."""
    send = row.get("send") or "whole"
    if send not in SENDS:
        raise Refusal(gettext_noop("rule %(number)s: send must be one of %(choices)s"),
                      number=number, choices=", ".join(SENDS)).answer(field="send")
    pace = {"send": send}
    for name, top in (("delay_ms", MAX_DELAY_MS), ("every_ms", MAX_EVERY_MS)):
        value = row.get(name) or 0
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            raise Refusal(gettext_noop("rule %(number)s: %(name)s must be a whole number of "
                                       "milliseconds from 0 to %(top)s"),
                          number=number, name=name, top=top).answer(field=name)
        pace[name] = value
    if send == "whole" and not pace["delay_ms"]:
        return {}
    pieces = count_pieces(data, send)
    total = pace["delay_ms"] + pace["every_ms"] * (pieces - 1)
    if pieces > MAX_PIECES or total > MAX_TOTAL_MS:
        raise Refusal(gettext_noop(
            "rule %(number)s would send %(pieces)s pieces over %(total)s ms; the limit is "
            "%(max_pieces)s pieces over %(max_total)s ms"), number=number, pieces=pieces,
            total=total, max_pieces=MAX_PIECES, max_total=MAX_TOTAL_MS).answer(field="every_ms")
    return pace


def count_pieces(data: bytes, send: str) -> int:
    """How many pieces henaserver cuts ``data`` into (paced.paced): the head, then a
    line (drip), a chunk per line and the last chunk (chunked) or an event each."""
    found = HEAD_END.search(data)
    if send == "whole" or found is None:  # no head: sent whole
        return 1
    body = data[found.end():]
    if send == "events":
        return 1 + sum(1 for event in EVENT.findall(body) if event)
    return 1 + len(body.splitlines()) + (1 if send == "chunked" else 0)


SSE = ("HTTP/1.1 200 OK\nContent-Type: text/event-stream\nCache-Control: no-cache\n\n"
       "data: first event\n\n"
       "event: tick\ndata: {\"n\": 2}\n\n"
       "data: last event; the server closes the connection now\n\n")

# Shown with the other rule presets (compose.presets.RULE_PRESETS) in the rules editor.
STREAM_PRESETS: dict[str, dict[str, Any]] = {
    "streams": {
        "label": _("Responses that stream: /slow, /drip, /chunked, /events"),
        "rules": [
            {"method": "GET", "path": "/slow", "send": "whole", "delay_ms": 3000, "every_ms": 0,
             "response": "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 20\n\n"
                         "Sorry to keep you!\r\n"},
            {"method": "GET", "path": "/drip", "send": "drip", "delay_ms": 0, "every_ms": 700,
             "response": "HTTP/1.1 200 OK\nContent-Type: text/plain\n\n"
                         "one\ntwo\nthree\nfour\nfive\n"},
            {"method": "GET", "path": "/chunked", "send": "chunked", "delay_ms": 0,
             "every_ms": 700,
             "response": "HTTP/1.1 200 OK\nContent-Type: text/plain\nTrailer: Server-Timing\n"
                         "Server-Timing: total;dur=2100\n\nHello,\nchunked\nworld!\n"},
            {"method": "GET", "path": "/events", "send": "events", "delay_ms": 0,
             "every_ms": 1000, "response": SSE},
        ],
    },
}
