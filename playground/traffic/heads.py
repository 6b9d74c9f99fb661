"""Where an HTTP head ends: one rule for every view of recorded bytes (no Django).

RFC 9112 section 2.2 lets a recipient take a bare LF as a line terminator, and henaserver
does (it is what people type into netcat). So a head ends at the first LF that is
followed by LF or by CR LF, exactly where henaserver's parser ended it; a view that
looked only for CR LF CR LF would tell the learner "the head never ended" about a
request the server answered. The same rule is in static/playground/js/bytes.js, and
both are tested against one table of byte cases (tests/data/head_split.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def head_end(raw: bytes, start: int = 0) -> tuple[int, int]:
    """``(head_end, body_start)`` of the head that begins at ``start``: the head's bytes
    are ``raw[start:head_end]`` (its last line ending included), the body begins at
    ``body_start``, after the empty line. ``(-1, -1)`` when the head never ended."""
    lf_lf = raw.find(b"\n\n", start)
    lf_crlf = raw.find(b"\n\r\n", start)
    if lf_lf != -1 and (lf_crlf == -1 or lf_lf < lf_crlf):
        return lf_lf + 1, lf_lf + 2
    if lf_crlf != -1:
        return lf_crlf + 1, lf_crlf + 3
    return -1, -1


def head_lines(head: bytes) -> list[bytes]:
    """The lines of a head, without their CR LF or bare LF endings."""
    if head.endswith(b"\n"):
        head = head[:-1]
    return [line[:-1] if line.endswith(b"\r") else line for line in head.split(b"\n")]


def is_interim(status_line: bytes) -> bool:
    """A 1xx response that another response follows (100 Continue, 103 Early Hints);
    101 Switching Protocols is final."""
    code = status_line[9:12]
    return status_line.startswith(b"HTTP/") and code[:1] == b"1" and code != b"101"


@dataclass
class Split:
    """A recorded message cut at its head's end. For a response, interim 1xx heads that
    came first are set apart in ``interim``."""

    head: bytes  # the final head's bytes (its last line ending included)
    body: bytes
    complete: bool  # False: the head never ended (``head`` is all there is)
    head_size: int = -1  # bytes of the head and its empty line; -1 when incomplete
    interim: list[bytes] = field(default_factory=list)  # their status lines

    @property
    def lines(self) -> list[bytes]:
        return head_lines(self.head)


def split(raw: bytes, response: bool = False) -> Split:
    """Cut ``raw`` into head and body, skipping a response's interim 1xx heads."""
    pos, interim = 0, []
    while True:
        end, body_start = head_end(raw, pos)
        if end == -1:
            return Split(raw[pos:], b"", False, -1, interim)
        head = raw[pos:end]
        if response and is_interim(head):
            interim.append(head_lines(head)[0])
            pos = body_start
            continue
        return Split(head, raw[body_start:], True, body_start - pos, interim)
