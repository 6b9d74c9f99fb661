"""Advice on each message (issue 16, point 5): the notes of httplint (the library behind
REDbot) on a captured request and its response, plus the playground's own where the
bytes need one httplint cannot give (advice_own.py).

httplint reads a message already cut into a start line, fields and a body; this module
does the cutting the way every view of recorded bytes does (``heads.split``: a head
ends where henaserver ended it, bare LF included), and notes what that cutting saw.

Linting costs about a millisecond per exchange on these machines (docs/traffic-ui.md),
too much for the ingest writer, which stores thousands a second in a flood. So nothing
is linted as it arrives: the page asks for the rows it shows (advice_api.py), and the
notes of each exchange are kept in a bounded cache, keyed by the row's id (stored
bytes never change; an id is never reused).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from httplint import HttpRequestLinter, HttpResponseLinter, Note
from httplint.message import CL_CORRECT, CL_INCORRECT

from . import advice_own as own
from . import heads
from .exports import dechunk

log = logging.getLogger(__name__)

# The levels httplint gives a note, worst first.
LEVELS = ("bad", "warning", "info", "good")
# Exchanges whose notes each process keeps: a few screens of rows and the open ones.
CACHE_SIZE = 2000
# ... and the bytes their notes may hold. A note keeps its class and its values, which are
# usually a few words but may be a whole field value (a syntax note quotes it): a
# hostile head could make one exchange's notes tens of KiB.
CACHE_BYTES = 16 * 2**20
# What a note costs beyond its values (the object, its dicts), for that count.
NOTE_OVERHEAD = 400
# A field line shown in a note is cut here: notes are sentences, not dumps.
SHOWN_LINE = 60


@dataclass(frozen=True)
class Advice:
    """The notes on one exchange: its request's, then its response's."""

    request: tuple[Note, ...]
    response: tuple[Note, ...]

    @property
    def size(self) -> int:
        """About how many bytes the notes hold (for the cache's bound)."""
        return sum(NOTE_OVERHEAD + sum(len(str(v)) for v in note.vars.values())
                   for note in self.request + self.response)

    def counts(self) -> dict[str, int]:
        """How many notes of each level, for the list's badge."""
        counts = dict.fromkeys(LEVELS, 0)
        for note in self.request + self.response:
            counts[note.level.value] += 1
        return counts


def _shown(line: bytes) -> str:
    text = line.decode("latin-1")
    return text if len(text) <= SHOWN_LINE else text[:SHOWN_LINE] + "…"


def _bare_lf_count(cut: heads.Split) -> int:
    """Lines of the head (its empty last line too) that end with LF alone."""
    in_head = cut.head.count(b"\n") - cut.head.count(b"\r\n")
    return in_head + (1 if cut.head_size - len(cut.head) == 1 else 0)


def _fields(lines: list[bytes], notes) -> list[tuple[bytes, bytes]]:
    """(name, value) pairs of the field lines, as httplint wants them: a folded line
    joined to its field, a line without a colon left out (each with its own note)."""
    fields: list[tuple[bytes, bytes]] = []
    folded = False
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip(b" \t"))
            folded = True
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            notes.add("message", own.NO_COLON, line=_shown(line))
            continue
        fields.append((name, value.strip(b" \t")))
    if folded:
        notes.add("message", own.OBS_FOLD)
    return fields


def _field(fields: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((v for n, v in reversed(fields) if n.strip().lower() == name), None)


def _feed(linter, raw: bytes, truncated: bool, response: bool) -> None:
    """Cut ``raw`` into its parts and give them to ``linter``; the own notes go into
    the same list."""
    notes = linter.notes
    if not response:
        # A server ignores empty lines before a request line (RFC 9112 §2.4): henaserver
        # does, and so do the notes.
        raw = raw.lstrip(b"\r\n")
    cut = heads.split(raw, response)
    if response and not raw.startswith(b"HTTP/"):
        notes.add("message", own.START_LINE, line=_shown(cut.lines[0]))
        return
    if not cut.complete:
        notes.add("message", own.HEAD_UNFINISHED)
        return
    lines = cut.lines
    bare = _bare_lf_count(cut)
    if bare:
        notes.add("message", own.BARE_LF, count=bare)
    parts = lines[0].split(b" ", 2)
    if response:
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            notes.add("message", own.START_LINE, line=_shown(lines[0]))
            return
        if len(parts) == 2:  # "HTTP/1.1 200": the space before the reason is missing
            notes.add("message", own.START_LINE, line=_shown(lines[0]))
        linter.process_response_topline(parts[0], parts[1], parts[2] if len(parts) > 2 else b"")
    else:
        if len(parts) != 3 or not all(parts) or b" " in parts[2]:
            notes.add("message", own.START_LINE, line=_shown(lines[0]))
            return
        linter.process_request_topline(parts[0], parts[1], parts[2])
    fields = _fields(lines[1:], notes)
    linter.process_headers(fields)
    body, complete = cut.body, not truncated
    coding = _field(fields, b"transfer-encoding")
    if coding is not None and coding.lower().rstrip().endswith(b"chunked"):
        data = dechunk(body)
        if data is None and not truncated:
            notes.add("message", own.CHUNKS_UNREADABLE)
        body, complete = (data, complete) if data is not None else (b"", False)
    elif response and coding is None and _field(fields, b"content-length") is None \
            and linter.version == "HTTP/1.1" and linter.can_have_content():
        notes.add("message", own.CLOSE_DELIMITED)
    linter.feed_content(body)
    linter.finish_content(complete)
    if coding is not None and _field(fields, b"content-length") is not None \
            and not any(type(n).__name__ == "CL_AND_TE_PRESENT" for n in notes):
        notes.add("field-transfer-encoding", own.BOTH_LENGTHS)
    if truncated:
        # The recording kept the first bytes only: a Content-Length judged against
        # them would be wrong.
        notes.data = [n for n in notes if not isinstance(n, (CL_CORRECT, CL_INCORRECT))]
        notes.add("field-content-length", own.RECORDING_CUT, recorded=len(cut.body))


def lint(request_raw: bytes, response_raw: bytes, request_truncated: bool = False,
         response_truncated: bool = False) -> Advice:
    """The notes on one exchange's recorded bytes. Never raises: a failure inside
    httplint is logged and becomes a note saying so."""
    request = HttpRequestLinter()
    try:
        if request_raw:
            _feed(request, request_raw, request_truncated, response=False)
        if not response_raw:
            return Advice(tuple(request.notes), ())
        response = HttpResponseLinter(_related=request)
        request.response = response
        response.is_head_response = request.method == "HEAD"
        _feed(response, response_raw, response_truncated, response=True)
        return Advice(tuple(request.notes), tuple(response.notes))
    except Exception:  # a bug in a library must not cost the learner the page
        log.exception("httplint failed on an exchange")
        failed = HttpRequestLinter()
        failed.notes.add("message", own.LINT_FAILED)
        return Advice(tuple(failed.notes), ())


class Cache:
    """The advice of the exchanges asked about last, by row id: at most ``size`` of
    them, holding at most ``max_bytes`` (Advice.size), the oldest asked dropped first."""

    def __init__(self, size: int = CACHE_SIZE, max_bytes: int = CACHE_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[int, tuple[Advice, int]] = OrderedDict()
        self._lock = threading.Lock()  # sync views run on several threads

    def get(self, key: int) -> Advice | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: int, advice: Advice) -> None:
        size = advice.size
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._items[key] = (advice, size)
            self.bytes += size
            while len(self._items) > self.size or (self.bytes > self.max_bytes
                                                   and len(self._items) > 1):
                self.bytes -= self._items.popitem(last=False)[1][1]


cache = Cache()
