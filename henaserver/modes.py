"""Serving modes: the stages of the tutorial the server grew from, and response rules.

A learner switches modes to see, on the wire, why a real server does what it does:

- ``full``: the real static file server (the default).
- ``no-content-type``: every file is labelled ``text/html``. The browser then ignores the
  stylesheet, because CSS must arrive as ``text/css``: the page loses its colours.
- ``once``: answers one request, closes, and exits, like the tutorial's first server.
  The page arrives, but its CSS and image requests find nobody listening.
- ``fixed``: every request gets the same bytes, verbatim (e.g. Apache's recorded
  "It works!" reply). The browser cannot tell it is not Apache.
- ``record-only``: reads each request, records it, and closes without a word: the
  tutorial's very first step, where the goal is only to see what the browser sends.

Response rules (``--rules FILE``) come before the mode's handler: a JSON file of
``{"rules": [{"method": "GET", "path": "/test", "response": "HTTP/1.1 200 OK\\r\\n..."}]}``
where ``method`` and ``path`` may be ``"*"``, and the first matching rule's raw response
is sent instead. The file is re-read whenever it changes, so edits apply at once. A rule
may also send its response over time: ``"send"`` (``whole``, ``drip``, ``chunked`` or
``events``), ``"delay_ms"`` and ``"every_ms"`` (see ``paced.py``).

What a mode changes is data, a ``ModePolicy``, built once from ``--mode`` (``policy_for``).
No other module compares mode names: each field is consulted where its decision is made
(the field's comment says where).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from typing import Final

from .http import HTTPError, Request
from .limits import Limits
from .paced import Paced, pace_of, paced, paced_response
from .response import Handler, Response, raw_response
from .static import StaticFiles, split_target

log = logging.getLogger("henaserver")


@dataclass(frozen=True)
class ModePolicy:
    """What one serving mode changes, field by field (see the module docstring)."""

    name: str
    # False: each request is recorded and nothing at all is sent: the handler is never
    # run (Connection._answer) and the connection closes (persistence.close_reason).
    answers: bool = True
    # True: the first exchange closes its connection (persistence.close_reason) and then
    # stops the whole server (Server.exchange_done), like the tutorial's TCPServer.
    serves_one_request: bool = False
    # False: every file is labelled text/html (build_handler).
    content_type_by_extension: bool = True
    # True: every request gets the bytes of --fixed-response FILE (build_handler).
    fixed_response: bool = False


POLICIES: Final = {policy.name: policy for policy in (
    ModePolicy("full"),
    ModePolicy("no-content-type", content_type_by_extension=False),
    ModePolicy("once", serves_one_request=True),
    ModePolicy("fixed", fixed_response=True),
    ModePolicy("record-only", answers=False),
)}
MODES: Final = tuple(POLICIES)
FULL: Final = POLICIES["full"]


def policy_for(mode: str) -> ModePolicy:
    """The policy of a mode named on the command line (one of ``MODES``)."""
    return POLICIES[mode]


# A raw response or rules file larger than this is refused: it is read into memory.
MAX_RAW_FILE: Final = 1024 * 1024


class WatchedFile:
    """A small file re-read only when it changes: its inode (an editor's atomic save
    makes a new one), modification time or size."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._key: tuple[int, int, int] | None = None
        self._data = b""

    def read(self) -> bytes:
        try:
            st = os.stat(self.path)
        except OSError:
            return self._data  # deleted or being replaced: keep the last good copy
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._key:
            if st.st_size > MAX_RAW_FILE:
                raise HTTPError(500, f"{self.path} is larger than {MAX_RAW_FILE} bytes")
            with open(self.path, "rb") as file:
                self._data = file.read(MAX_RAW_FILE)
            self._key = key
        return self._data


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    response: bytes
    plan: Paced | None = None  # sent over time (paced.py); None: at once, as written

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path in ("*", path)


def parse_rules(data: bytes) -> list[Rule]:
    """Read a rules file; raise ValueError with a readable message when it is wrong."""
    if not data.strip():
        return []
    document = json.loads(data)
    entries = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('expected {"rules": [...]}')
    rules = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ValueError(f"rule {number} is not an object")
        method, path = entry.get("method", "*"), entry.get("path", "*")
        if "response_b64" in entry:
            response = base64.b64decode(entry["response_b64"], validate=True)
        elif isinstance(entry.get("response"), str):
            response = entry["response"].encode("utf-8")
        else:
            raise ValueError(f"rule {number} has no response")
        if not isinstance(method, str) or not isinstance(path, str):
            raise ValueError(f"rule {number}: method and path must be strings")
        send, delay, every = pace_of(entry, number)
        plan = None if (send, delay) == ("whole", 0) else paced(response, send, delay,
                                                                every, number)
        rules.append(Rule(method.upper() if method != "*" else "*", path, response, plan))
    return rules


class RulesFirst:
    """Answer from the first matching rule, else from the wrapped handler."""

    def __init__(self, path: str, fallback: Handler) -> None:
        self.file = WatchedFile(path)
        self.fallback = fallback
        self._source = b""
        self._rules: list[Rule] = []

    def __call__(self, request: Request) -> Response:
        data = self.file.read()
        if data != self._source:
            try:
                self._rules = parse_rules(data)
            except (ValueError, KeyError, TypeError) as error:
                # Keep serving with the last good rules; say why in the log.
                log.warning("rules file %s ignored: %s", self.file.path, error)
            self._source = data
        path, _ = split_target(request.head.target)
        for rule in self._rules:
            if rule.matches(request.head.method, path):
                if rule.plan is not None:
                    return paced_response(rule.plan)
                return raw_response(rule.response)
        return self.fallback(request)


def build_handler(policy: ModePolicy, root: str, limits: Limits, *,
                  fixed_response: str | None = None, rules: str | None = None) -> Handler:
    """The handler for a mode (see the module docstring)."""
    handler: Handler
    if policy.fixed_response:
        if fixed_response is None:
            raise ValueError("the fixed mode needs --fixed-response FILE")
        fixed = WatchedFile(fixed_response)
        fixed.read()  # fail at start, not at the first request, if it is unreadable

        def handler(request: Request) -> Response:
            return raw_response(fixed.read())
    else:
        handler = StaticFiles(root, limits, detect_types=policy.content_type_by_extension)
    if rules is not None:
        handler = RulesFirst(rules, handler)
    return handler
