"""The traffic filter, on the server: the same grammar and the same meaning as the
traffic page's filter box (static/playground/js/filters.js ``parseFilter``/``matches``),
so an export of "the filtered list" holds exactly the rows the page shows.

Grammar, tokens separated by spaces, all must match:

* ``method:GET`` (or ``method:GET,HEAD``): the request method, any case;
* ``status:404``, ``status:4xx``, ``status:rejected`` (an outcome), comma lists allowed;
* ``larger-than:10k``: response length above a size (``k``/``m``/``g`` are 1024-based);
* ``run:3`` (or ``run:2,3``): exchanges of those runs (models.Run numbers);
* ``check:4.2`` (or ``check:4``, any check of stage 4; comma lists): the exchanges
  "Check my server" sent for those checks (the summary's ``check``);
* anything else: text the request target must contain (case-insensitive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .outcomes import OUTCOMES

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kmg]?)b?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# run:3 or run:2,3, ASCII digits only (as JS's \d); anything else is a word.
_RUNS = re.compile(r"^[0-9]+(,[0-9]+)*$")
# check:4.2, check:4 or check:2,4.2; anything else is a word.
_CHECKS = re.compile(r"^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$")


@dataclass
class Filter:
    methods: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    larger: float | None = None
    runs: list[int] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def parse_size(text: str) -> float | None:
    match = _SIZE.match(text)
    if not match:
        return None
    return float(match[1]) * _UNITS[match[2].lower()]


def parse(text: str) -> Filter | None:
    """The filter for ``text``, or None when it filters nothing."""
    f = Filter()
    for token in (text or "").split():
        key, _, value = token.partition(":")
        if key == "method" and value:
            f.methods += value.upper().split(",")
        elif key == "status" and value:
            f.statuses += value.lower().split(",")
        elif key == "larger-than" and parse_size(value) is not None:
            f.larger = parse_size(value)
        elif key == "run" and _RUNS.match(value):
            f.runs += [int(n) for n in value.split(",")]
        elif key == "check" and _CHECKS.match(value):
            f.checks += value.split(",")
        else:
            f.words.append(token.lower())
    if f.methods or f.statuses or f.larger is not None or f.runs or f.words or f.checks:
        return f
    return None


def _status_matches(item: dict[str, Any], pattern: str) -> bool:
    if pattern in OUTCOMES:
        return item.get("outcome") == pattern
    text = "" if item.get("status") is None else str(item["status"])
    if re.fullmatch(r"\dxx", pattern):
        return text[:1] == pattern[0]
    return text == pattern


def matches(item: dict[str, Any], f: Filter | None) -> bool:
    """Whether an exchange summary (exchanges.summary) passes the filter."""
    if f is None:
        return True
    if f.methods and (item.get("method") or "").upper() not in f.methods:
        return False
    if f.statuses and not any(_status_matches(item, p) for p in f.statuses):
        return False
    if f.larger is not None and not (item.get("response_length") or 0) > f.larger:
        return False
    if f.runs and item.get("run") not in f.runs:
        return False
    label = item.get("check") or ""
    if f.checks and not any(label == c or label.startswith(c + ".") for c in f.checks):
        return False
    path = (item.get("target") or "").lower()
    return all(word in path for word in f.words)
