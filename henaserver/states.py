"""The states of a connection and the moves between them, as data.

``Connection`` (``connection.py``) is in exactly one ``State`` at a time; its docstring
holds the same table for people, with the reason for each move, and a test checks that
the two agree. Any move not in ``TRANSITIONS`` is a bug, and raises.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class State(Enum):
    OPEN = "open"
    INPUT_ENDED = "input ended"
    CLOSING = "closing"
    LINGERING = "lingering"
    CLOSED = "closed"


# The states in which requests are still taken from the parser and answered.
READING: Final = (State.OPEN, State.INPUT_ENDED)
TRANSITIONS: Final = {
    State.OPEN: frozenset({State.INPUT_ENDED, State.CLOSING, State.CLOSED}),
    State.INPUT_ENDED: frozenset({State.CLOSING, State.CLOSED}),
    State.CLOSING: frozenset({State.LINGERING, State.CLOSED}),
    State.LINGERING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}
