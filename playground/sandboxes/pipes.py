"""Reading a child's pipes a line at a time, never holding more than a bound of a line.

The supervisor's reader threads (supervisor.py) read each child's event pipe and its
stdout and stderr. A line has no length of its own: read with plain iteration, one line
without a newline would be read whole into memory, however long. Here each line is read
in pieces of at most a bound; what is beyond it is read and discarded, and its length
is counted so the caller can say what it left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# The longest line read from a child, in bytes. An event line is at most a request and
# a response, each a head (henaserver refuses request heads over 32 KiB) and a body cut
# at the capture cap (64 KiB), as base64: about 260 KB. A console line is an access-log
# line or a line of a traceback. A longer line is skipped (an event) or cut (a console
# line) without ever being held whole: a child cannot make us read gigabytes into one
# line.
MAX_EVENT_LINE = 1024 * 1024
MAX_CONSOLE_LINE = 16 * 1024
DISCARD_PIECE = 64 * 1024  # what is read at a time of the rest of a longer line


def bounded_lines(stream: Any, limit: int) -> Iterator[tuple[bytes, int]]:
    """Each line of a binary stream as (its first ``limit`` bytes, its whole length), the
    newline included; the rest of a longer line is read and discarded, never kept."""
    while line := stream.readline(limit):
        length = len(line)
        tail, piece = line, limit
        while not tail.endswith(b"\n") and len(tail) == piece:
            piece = DISCARD_PIECE
            tail = stream.readline(piece)
            length += len(tail)
        yield line, length


def console_line(raw: bytes, length: int) -> str:
    """A console line as text, without its line ending, saying how much was cut off."""
    line = raw.decode("utf-8", "replace").rstrip("\r\n")
    return line if length == len(raw) else f"{line} [... {length - len(raw)} more bytes]"
