"""The raw request corpus: ``requests/{valid,invalid}/NNN-name.http`` plus expectations.

Each ``.http`` file holds the bytes exactly as a client puts them on the wire (CRLF, bare
LF, bare CR and all; ``.gitattributes`` stops git from converting them). Its sibling
``.json`` says what the parser must make of them:

- valid: ``method``, ``target``, ``version``, ``headers`` (pairs, in order and case as
  received), ``body`` (latin-1 text, so any byte fits), ``framing`` ({kind, length}),
  ``keep_alive`` and ``expects_continue``.
- invalid: ``status`` (the error to answer), ``reason`` (a fragment of the error's
  reason), ``close`` (the connection must close after answering) and ``after_head``
  (the head parses and the error is in the body, so a ``RequestHead`` comes first).
  ``refused_after`` (optional): the parser must already refuse the first this many
  bytes, before the head is complete: bytes that can never become a request (a TLS
  handshake, a NUL, binary, a bare CR, a request line without a version) are answered
  at once, not when the head would have timed out.

The hostile cases (from 069 and 041 on) hold long runs of spaces, tabs, obs-text or token
characters before or after a bad byte, in field lines, request lines, chunk-size lines and
trailers: the inputs that made a backtracking pattern take time growing with the square
of their length. Here they check the answer; ``bench/parse_cost.py`` checks the time.

The same corpus is replayed against the real server in ``test_errors.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUESTS = Path(__file__).parent / "requests"


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    expect: dict[str, Any]

    def __str__(self) -> str:
        return self.name


def load(kind: str) -> list[Case]:
    """Every case of one kind ("valid" or "invalid"), in file-name order."""
    cases = []
    for path in sorted((REQUESTS / kind).glob("*.http")):
        expect_path = path.with_suffix(".json")
        if not expect_path.exists():
            raise AssertionError(f"{path.name} has no expectation file {expect_path.name}")
        cases.append(Case(path.stem, path.read_bytes(), json.loads(expect_path.read_text())))
    if not cases:
        raise AssertionError(f"no corpus files in {REQUESTS / kind}")
    return cases


VALID = load("valid")
INVALID = load("invalid")
