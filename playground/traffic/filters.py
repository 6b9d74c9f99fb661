"""The traffic filter, on the server: the same grammar and the same meaning as the
traffic page's filter box (static/playground/js/filters.js ``parseFilter``/``matches``),
so an export of "the filtered list" holds exactly the rows the page shows. Both are
tested against one table of cases, tests/data/filters.json; docs/traffic-ui.md explains
the grammar to learners.

Tokens are separated by spaces and every one must hold. ``-TOKEN`` holds when TOKEN
does not (``-status:200``; a lone ``-`` is a word). A token is:

* ``method:GET`` (or ``method:GET,HEAD``): the request method, any case;
* ``status:404``, ``status:4xx``, ``status:rejected`` (an outcome), comma lists allowed;
* ``larger-than:10k``: response length above a size (``k``/``m``/``g`` are 1024-based);
* ``run:3`` (or ``run:2,3``): exchanges of those runs (models.Run numbers);
* ``check:4.2`` (or ``check:4``, any check of stage 4; comma lists): the exchanges
  "Check my server" sent for those checks (the summary's ``check``);
* ``re:PATTERN``: the request target matches a regular expression, any case (the
  syntax Python's ``re`` and JavaScript's ``RegExp`` share; ``(?…)`` groups other than
  ``(?:``, ``(?=``, ``(?!`` are refused, so both sides always agree). Here it runs on
  the ``regex`` package (``re``'s syntax, with a timeout): a pattern that backtracks
  without end (``(a|aa)+$``) is refused once its searches of one request spend
  PATTERN_SECONDS, instead of holding the thread every sync view shares;
* ``h:NAME=TEXT``: a header NAME (any case) of the request or the response whose value
  contains TEXT (any case); ``h:NAME`` alone: the header is there;
* ``body:TEXT``: the request or the response body contains TEXT (ASCII letters in any
  case), as the bytes were sent (not decompressed, chunk sizes included);
* anything else: text the request target must contain (case-insensitive).

A malformed ``key:value`` (``run:x``, ``check:``) is a plain word, as it always was.
``h:`` and ``body:`` need the recorded bytes, which summaries do not carry: the page
asks the server which stored exchanges pass such a token (traffic/search.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex
from django.utils.translation import gettext

from . import heads
from .outcomes import OUTCOMES

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kmg]?)b?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# run:3 or run:2,3, ASCII digits only (as JS's \d); anything else is a word.
_RUNS = re.compile(r"^[0-9]+(,[0-9]+)*$")
# check:4.2, check:4 or check:2,4.2; anything else is a word.
_CHECKS = re.compile(r"^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$")
# Extensions the two regex dialects spell differently ((?P<n>…), (?<n>…), (?i)…).
_FOREIGN_GROUP = re.compile(r"\(\?(?![:=!])")
# A pattern is the learner's own, run over their own targets; the bounds keep one
# pathological pattern from holding a worker for long: its length, and the time all its
# searches for one request may take (a list of 2,000 targets takes a few milliseconds).
MAX_PATTERN = 200
PATTERN_SECONDS = 0.5
# Tokens answered from the recorded bytes (the server), not from the summary.
BYTE_KEYS = ("h", "body")


class FilterError(ValueError):
    """A filter text that cannot be used (a bad regular expression): shown, never guessed."""


@dataclass(frozen=True)
class Term:
    """One token: ``key`` ("method", "status", "larger", "run", "check", "re", "h",
    "body" or "word"), its parsed ``value``, and ``negated`` for a leading ``-``.
    ``text`` is the token without its ``-``: what the page sends to the server."""

    key: str
    value: Any
    text: str
    negated: bool = False


@dataclass(frozen=True)
class Filter:
    terms: tuple[Term, ...]

    @property
    def needs_bytes(self) -> bool:
        return any(t.key in BYTE_KEYS for t in self.terms)


def parse_size(text: str) -> float | None:
    match = _SIZE.match(text)
    if not match:
        return None
    return float(match[1]) * _UNITS[match[2].lower()]


class Pattern:
    """A learner's ``re:`` pattern, compiled, with the time its searches may still take
    (one filter is parsed per request, so the budget is the request's)."""

    def __init__(self, text: str, compiled: Any) -> None:
        self.text, self.compiled, self.seconds_left = text, compiled, PATTERN_SECONDS

    def search(self, target: str) -> bool:
        """Whether the pattern is found in ``target``; FilterError once the budget is spent."""
        began = time.monotonic()
        try:
            return self.compiled.search(target, timeout=self.seconds_left) is not None
        except TimeoutError:
            raise FilterError(gettext(
                "re:%(pattern)s: this pattern takes too long on your requests' targets (it "
                "tries too many ways to match): write it more simply") % {"pattern": self.text}
            ) from None
        finally:
            self.seconds_left = max(0.0, self.seconds_left - (time.monotonic() - began))


def _compile(pattern: str) -> Pattern:
    # The same sentences as filters.js's compile(), in the request's language.
    if len(pattern) > MAX_PATTERN:
        raise FilterError(gettext("re: a pattern is at most %(count)s characters")
                          % {"count": MAX_PATTERN})
    if _FOREIGN_GROUP.search(pattern):
        raise FilterError(gettext("re:%(pattern)s: only (?:…), (?=…) and (?!…) groups are "
                                  "understood") % {"pattern": pattern})
    try:
        return Pattern(pattern, regex.compile(pattern, regex.IGNORECASE))
    except regex.error as err:
        raise FilterError(gettext("re:%(pattern)s: not a regular expression (%(error)s)")
                          % {"pattern": pattern, "error": err}) from None


def term(token: str) -> Term:
    """One token as a term (a leading ``-`` negates); raises FilterError for a bad
    regular expression."""
    negated = token.startswith("-") and len(token) > 1
    text = token[1:] if negated else token
    key, _, value = text.partition(":")
    if key == "method" and value:
        return Term("method", tuple(value.upper().split(",")), text, negated)
    if key == "status" and value:
        return Term("status", tuple(value.lower().split(",")), text, negated)
    if key == "larger-than" and parse_size(value) is not None:
        return Term("larger", parse_size(value), text, negated)
    if key == "run" and _RUNS.match(value):
        return Term("run", tuple(int(n) for n in value.split(",")), text, negated)
    if key == "check" and _CHECKS.match(value):
        return Term("check", tuple(value.split(",")), text, negated)
    if key == "re" and value:
        return Term("re", _compile(value), text, negated)
    if key == "h" and value and not value.startswith("="):
        name, has_value, wanted = value.partition("=")
        return Term("h", (name.lower(), wanted.lower() if has_value else None), text, negated)
    if key == "body" and value:
        return Term("body", value.lower().encode("utf-8"), text, negated)
    return Term("word", text.lower(), text, negated)


def parse(text: str) -> Filter | None:
    """The filter for ``text``, or None when it filters nothing. Raises FilterError."""
    terms = tuple(term(token) for token in (text or "").split())
    return Filter(terms) if terms else None


def _status_matches(item: dict[str, Any], pattern: str) -> bool:
    if pattern in OUTCOMES:
        return item.get("outcome") == pattern
    text = "" if item.get("status") is None else str(item["status"])
    if re.fullmatch(r"\dxx", pattern):
        return text[:1] == pattern[0]
    return text == pattern


def header_matches(raw: bytes, name: str, wanted: str | None, response: bool) -> bool:
    """Whether the message's (final) head has a field ``name`` whose value contains
    ``wanted`` (None: any value); names and values compared in any case."""
    for line in heads.split(raw, response=response).lines[1:]:
        field, colon, value = line.decode("latin-1").partition(":")
        if colon and field.strip().lower() == name:
            if wanted is None or wanted in value.strip().lower():
                return True
    return False


def bytes_match(t: Term, request: bytes, response: bytes) -> bool:
    """A byte term (``h:``/``body:``, not negated) against one exchange's recorded bytes."""
    if t.key == "h":
        name, wanted = t.value
        return (header_matches(request, name, wanted, False)
                or header_matches(response, name, wanted, True))
    return any(t.value in heads.split(raw, response=is_response).body.lower()
               for raw, is_response in ((request, False), (response, True)))


Raw = Callable[[], tuple[bytes, bytes]]


def _holds(item: dict[str, Any], t: Term, raw: Raw | None) -> bool:
    if t.key == "method":
        return (item.get("method") or "").upper() in t.value
    if t.key == "status":
        return any(_status_matches(item, p) for p in t.value)
    if t.key == "larger":
        return bool((item.get("response_length") or 0) > t.value)
    if t.key == "run":
        return item.get("run") in t.value
    if t.key == "check":
        # A check's label ("4.2"), or its stage ("4"): the exchanges "Check my server" sent.
        label = item.get("check") or ""
        return any(label == c or label.startswith(c + ".") for c in t.value)
    if t.key == "re":
        return bool(t.value.search(item.get("target") or ""))
    if t.key in BYTE_KEYS:
        if raw is None:
            raise ValueError(f"{t.text} needs the exchange's bytes")
        return bytes_match(t, *raw())
    return t.value in (item.get("target") or "").lower()


def matches(item: dict[str, Any], f: Filter | None, raw: Raw | None = None) -> bool:
    """Whether an exchange summary (exchanges.summary) passes the filter. ``raw`` gives
    its (request, response) bytes, needed only when ``f.needs_bytes``."""
    if f is None:
        return True
    return all(_holds(item, t, raw) != t.negated for t in f.terms)
