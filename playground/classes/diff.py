"""A student's answer against the reference, byte for byte: the ranges that differ.

The lines are matched with ``difflib.SequenceMatcher`` (the standard library's, as
``diff`` does), so an inserted header shifts nothing after it and is one range; in a
line that changed, the range is what lies between the part both lines start with and
the part both end with (``text/[html]`` against ``text/[css; charset=utf-8]``).

A range inside a header line whose value differs from server to server and from
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


def _changed(mine: bytes, theirs: bytes, a0: int, b0: int) -> tuple[str, int, int, int, int]:
    """The one range that differs between two pieces: what is left once their common
    start and end are set aside ("text/[html]" against "text/[css; charset=utf-8]",
    rather than scattered letters that happen to match)."""
    limit = min(len(mine), len(theirs))
    head = 0
    while head < limit and mine[head] == theirs[head]:
        head += 1
    tail = 0
    while tail < limit - head and mine[-1 - tail] == theirs[-1 - tail]:
        tail += 1
    a1, b1 = a0 + len(mine) - tail, b0 + len(theirs) - tail
    op = "replace" if a0 + head < a1 and b0 + head < b1 else "delete" if a0 + head < a1 \
        else "insert"
    return op, a0 + head, a1, b0 + head, b1


def _opcodes(mine: bytes, theirs: bytes) -> list[tuple[str, int, int, int, int]]:
    """Byte ranges that differ, found line by line first (a header missing is a whole
    line missing, not the tail of one line and the head of the next), then, in lines
    that changed, the part of each line that differs."""
    a_lines, b_lines = _lines(mine), _lines(theirs)
    a_at = [0, *accumulate(len(x) for x in a_lines)]
    b_at = [0, *accumulate(len(x) for x in b_lines)]
    out = []
    by_line = SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for op, i0, i1, j0, j1 in by_line.get_opcodes():
        if op in ("delete", "insert"):
            out.append((op, a_at[i0], a_at[i1], b_at[j0], b_at[j1]))
        elif op == "replace":
            # Line against line when the counts match, else the block as one piece.
            pairs = (list(zip(range(i0, i1), range(j0, j1), strict=True)) if i1 - i0 == j1 - j0
                     else [(None, None)])
            for i, j in pairs:
                a0, a1 = (a_at[i0], a_at[i1]) if i is None else (a_at[i], a_at[i + 1])
                b0, b1 = (b_at[j0], b_at[j1]) if j is None else (b_at[j], b_at[j + 1])
                out.append(_changed(mine[a0:a1], theirs[b0:b1], a0, b0))
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
