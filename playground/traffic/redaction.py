"""Keep the playground's own cookies out of captured traffic.

Browsers send a host's cookies to every port of it (NOTES.md): a page of a sandbox
opened on the playground's own host name carries the playground's ``sessionid`` and
``csrftoken`` in its ``Cookie:`` header, and the capture would store them for anyone
who can see the traffic (a projector, a shared screen, an export). The default sandbox
host name is a different one (``sandboxes.sandbox_host``), so they should not arrive at
all; if they do anyway (PLAYGROUND_SANDBOX_HOST set to the playground's own name, a
curl command copied from the browser), this removes them before anything is stored.

This is the one deliberate change the playground makes to captured bytes: in the
request head's ``Cookie:`` lines, the *values* of the cookies named by
SESSION_COOKIE_NAME and CSRF_COOKIE_NAME become ``[redacted]``. Everything else, the
other cookies, spacing, order and line endings included, is kept as received, and
``request_length`` still says how many bytes the server really received. The body is
not searched: a page that posts ``document.cookie`` can only post the CSRF token (the
session cookie is HttpOnly), which is worthless without the session.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings

from . import heads

REDACTED = b"[redacted]"
_COOKIE_LINE = re.compile(rb"^([ \t]*cookie[ \t]*:)(.*?)(\r?)$", re.IGNORECASE)


def playground_cookie_names() -> tuple[str, ...]:
    return (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)


def redact_cookies(raw: bytes, names: Iterable[str] | None = None) -> bytes:
    """``raw`` with the values of the named cookies replaced in its head's Cookie lines."""
    wanted = {n.encode("latin-1") for n in (names or playground_cookie_names())}
    end, _ = heads.head_end(raw)
    head, rest = (raw, b"") if end < 0 else (raw[:end], raw[end:])
    if b"ookie" not in head and b"OOKIE" not in head:
        return raw
    lines = head.split(b"\n")
    changed = False
    for i, line in enumerate(lines[1:], start=1):  # line 0 is the request line
        match = _COOKIE_LINE.match(line)
        if match is None:
            continue
        value = _redact_pairs(match.group(2), wanted)
        if value != match.group(2):
            lines[i] = match.group(1) + value + match.group(3)
            changed = True
    return b"\n".join(lines) + rest if changed else raw


def _redact_pairs(value: bytes, wanted: set[bytes]) -> bytes:
    parts = value.split(b";")
    for i, part in enumerate(parts):
        name, eq, val = part.partition(b"=")
        if eq and name.strip() in wanted:
            parts[i] = name + eq + REDACTED + val[len(val.rstrip(b" \t")):]
    return b";".join(parts)


def redact_exchange(exchange):
    """An unsaved Exchange (exchanges.from_event) with its request redacted; the stored
    size follows, ``request_length`` (what the server received) does not."""
    raw = bytes(exchange.request_raw)
    clean = redact_cookies(raw)
    if clean is not raw:
        exchange.request_raw = clean
        exchange.stored_bytes += len(clean) - len(raw)
    return exchange
