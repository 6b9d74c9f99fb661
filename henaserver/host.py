"""What a connection needs from the server that drives it, written down as a Protocol.

``Server`` (``server.py``) is the one real Host; naming the interface keeps a
connection's dependencies on its server small and visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .capture import ConnectionClose, Exchange, Stats
from .limits import Limits
from .modes import ModePolicy
from .response import Handler

if TYPE_CHECKING:
    from .connection import Connection


class Host(Protocol):
    """What a connection needs from the server that drives it (``Server`` is one)."""

    handler: Handler
    limits: Limits
    policy: ModePolicy
    capturing: bool  # whether traffic events are recorded at all
    stats: Stats  # the server's totals; a connection adds the bytes it moves

    def http_date(self) -> str:
        """The Date field value for a response sent now."""
    def watch(self, connection: Connection, *, read: bool, write: bool) -> None:
        """Wait for exactly this readiness of the connection's socket."""
    def exchange_done(self, exchange: Exchange) -> None:
        """An exchange has ended: record it."""
    def connection_closed(self, connection: Connection, event: ConnectionClose) -> None:
        """The connection is closing: stop watching its socket and record why."""
    def client_turn(self, connection: Connection) -> None:
        """An exchange ended, so the connection waits on its client again: it goes to
        the back of the line of connections to close when the server is full."""
