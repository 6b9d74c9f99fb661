"""The states of a connection and the moves between them, as data.

``Connection`` (``connection.py``) is in exactly one ``State`` at a time. ``State``'s
docstring holds the table for people, with the reason for each move, and a test checks
that it agrees with ``TRANSITIONS``. Any move not in ``TRANSITIONS`` is a bug, and raises.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class State(Enum):
    """The state of a connection, and the moves between them:

    ==============  ===============================================  ==============
    from            when                                             to
    ==============  ===============================================  ==============
    OPEN            the client closed its sending side (EOF)         INPUT_ENDED
    OPEN            an exchange ends the connection (close_reason)   CLOSING
    INPUT_ENDED     every complete request buffered is answered      CLOSING
    INPUT_ENDED     an exchange ends the connection (close_reason)   CLOSING
    CLOSING         the output queue is written: half-close          LINGERING
    LINGERING       the client closed, or LINGER_SECONDS passed      CLOSED
    OPEN            timeout, reset, error, or the server stops       CLOSED
    INPUT_ENDED     timeout, reset, error, or the server stops       CLOSED
    CLOSING         timeout, reset, error, or the server stops       CLOSED
    ==============  ===============================================  ==============

    OPEN and INPUT_ENDED answer requests; CLOSING only writes what is queued; LINGERING
    only reads, to discard. ``TRANSITIONS`` holds this table as data: any other move is
    a bug and raises.
    """

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
