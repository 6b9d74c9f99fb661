"""Two recorded messages side by side: heads with heads, bodies with bodies, and the
byte ranges that differ (no Django: bytes in, JSON-ready data out).

The byte diff itself is the class board's (``classes/diff.py``: lines matched first,
then the part of a changed line that differs, Date/ETag/Server... marked ``expected``).
Here each message is cut at its head's end first (``heads.split``, the one rule every
view uses), so a longer head on one side never shifts the body's comparison: a body
that is the same on both sides shows as the same, whatever the headers did.
"""

from __future__ import annotations

import base64
from typing import Any

from ..classes import diff as bytes_diff
from . import heads

# What each side of a range is called here: diff.py speaks of a student's "response"
# against a "reference"; two exchanges the learner picked are just A and B.
OPS = {"differs": "differs", "extra": "only_in_a", "missing": "only_in_b"}
# Bytes of each part sent to the page: what diff.py compares (beyond it, "truncated":
# the page says only the first bytes were compared and shown).
SHOWN_BYTES = bytes_diff.MAX_DIFF_BYTES


def cut(raw: bytes, response: bool) -> tuple[bytes, bytes]:
    """``raw`` as (head, body): the head with its empty line (and, in a response, any
    interim 1xx heads before it), so head + body is exactly ``raw``. A head that never
    ended is all head."""
    split = heads.split(raw, response=response)
    if not split.complete:
        return raw, b""
    return raw[:len(raw) - len(split.body)], split.body


def side_by_side(a: bytes, b: bytes) -> dict[str, Any]:
    """One part of both messages and how they differ: ``a_b64``/``b_b64`` (the first
    SHOWN_BYTES of each), their full ``a_length``/``b_length``, ``same``,
    ``same_apart_from_expected``, ``truncated`` and ``ranges`` of ``{"op", "a": [start,
    end], "b": [start, end], "expected", "field"}`` (offsets into each side's bytes; op
    is differs, only_in_a or only_in_b)."""
    found = bytes_diff.diff(a, b)
    return {
        "a_b64": base64.b64encode(a[:SHOWN_BYTES]).decode("ascii"),
        "b_b64": base64.b64encode(b[:SHOWN_BYTES]).decode("ascii"),
        "a_length": len(a), "b_length": len(b),
        "same": found["same"],
        "same_apart_from_expected": found["same_apart_from_expected"],
        "truncated": found["truncated"],
        "ranges": [{"op": OPS[r["op"]], "a": r["response"], "b": r["reference"],
                    "expected": r["expected"], "field": r["field"]} for r in found["ranges"]],
    }


def compare(a: bytes, b: bytes, response: bool) -> dict[str, Any]:
    """Two requests (or two responses): ``{"head": ..., "body": ...}``, each from
    ``side_by_side``."""
    a_head, a_body = cut(a, response)
    b_head, b_body = cut(b, response)
    return {"head": side_by_side(a_head, b_head), "body": side_by_side(a_body, b_body)}
