"""A student's answer against the reference, byte for byte: the ranges that differ.

The ranges come from ``difflib.SequenceMatcher`` (the standard library's), line by
line and then byte by byte within the lines that changed, like ``git diff
--word-diff``: an inserted header shifts nothing after it, and is one range. A range inside a header line whose value differs from server to server and from
second to second by design (Date, ETag, Last-Modified, Server...) is marked
``expected``: shown, but not a mistake. ``same_apart_from_expected`` then says whether
the student's server answered like henaserver in every byte that matters.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from itertools import accumulate
from typing import Any

# Header fields a correct server may fill differently: the time it answers (Date), how
# it names a version of a file (ETag; Last-Modified by the file's time, to the second),
# what it is called (Server), how long it keeps a connection (Keep-Alive).
EXPECTED_FIELDS = frozenset({b"date", b"etag", b"last-modified", b"server", b"keep-alive"})
# Each side is compared up to this many bytes: SequenceMatcher is quadratic at worst,
# and a teacher's request is about heads, not large bodies. Beyond it: "truncated".
MAX_DIFF_BYTES = 16 * 1024
# SequenceMatcher's words (how to turn the response into the reference) in the
# student's terms.
OPS = {"replace": "differs", "delete": "extra", "insert": "missing"}

_FIELD_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[^\r\n]*", re.MULTILINE)


def expected_spans(raw: bytes) -> list[tuple[int, int, str]]:
    """(start, end, field name) of each EXPECTED_FIELDS line in the head of ``raw``."""
    head_end = raw.find(b"\r\n\r\n")
    head = raw if head_end < 0 else raw[:head_end]
    return [(m.start(), m.end(), m.group(1).decode("ascii").lower())
            for m in _FIELD_LINE.finditer(head) if m.group(1).lower() in EXPECTED_FIELDS]


def _field_at(spans: list[tuple[int, int, str]], start: int, end: int) -> str | None:
    """The expected field whose line holds all of [start, end), else None. An empty
    range (an insertion) at the end of the line counts as inside it."""
    for first, last, name in spans:
        if first <= start and end <= last and (start < last or start == end):
            return name
    return None


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _opcodes(mine: bytes, theirs: bytes) -> list[tuple[str, int, int, int, int]]:
    """Byte ranges that differ, found line by line first (a header missing is a whole
    line missing, not the tail of one line and the head of the next), then byte by
    byte inside the lines that changed."""
    a_lines, b_lines = _lines(mine), _lines(theirs)
    a_at = [0, *accumulate(len(x) for x in a_lines)]
    b_at = [0, *accumulate(len(x) for x in b_lines)]
    out = []
    by_line = SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for op, i0, i1, j0, j1 in by_line.get_opcodes():
        a0, a1, b0, b1 = a_at[i0], a_at[i1], b_at[j0], b_at[j1]
        if op in ("delete", "insert"):
            out.append((op, a0, a1, b0, b1))
        elif op == "replace":
            inner = SequenceMatcher(None, mine[a0:a1], theirs[b0:b1], autojunk=False)
            out += [(o, a0 + x0, a0 + x1, b0 + y0, b0 + y1)
                    for o, x0, x1, y0, y1 in inner.get_opcodes() if o != "equal"]
    return out


def diff(response: bytes, reference: bytes) -> dict[str, Any]:
    """How ``response`` differs from ``reference``: ``ranges`` of
    ``{"op", "response": [start, end], "reference": [start, end], "expected", "field"}``
    (offsets into each side; ``op`` is differs, extra (bytes only in the response) or
    missing (bytes only in the reference)), ``same``, ``same_apart_from_expected`` and
    ``truncated``."""
    mine, theirs = response[:MAX_DIFF_BYTES], reference[:MAX_DIFF_BYTES]
    mine_spans, their_spans = expected_spans(mine), expected_spans(theirs)
    ranges = []
    for op, a0, a1, b0, b1 in _opcodes(mine, theirs):
        field = _field_at(mine_spans, a0, a1)
        if field is None or _field_at(their_spans, b0, b1) != field:
            field = None
        ranges.append({"op": OPS[op],
                       "response": [a0, a1], "reference": [b0, b1],
                       "expected": field is not None, "field": field})
    return {
        "same": not ranges and len(response) == len(reference),
        "same_apart_from_expected": all(r["expected"] for r in ranges),
        "ranges": ranges,
        "truncated": max(len(response), len(reference)) > MAX_DIFF_BYTES,
    }
