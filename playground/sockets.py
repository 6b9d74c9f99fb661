"""What the playground's websockets share: the traffic viewer (traffic/consumer.py) and
the class board (classes/consumer.py) each build on this one base.

- Leaving is in a ``finally`` around the whole consumer (``__call__``), not only in
  ``disconnect()``: channels calls no ``disconnect()`` when a handler raised, and a
  socket left in its groups would be told things (and counted) for ever.
- Every socket joins its browser session's group (closed at logout,
  accounts._close_websockets) and its account's group (asked again when what the
  account may see shrinks, classes/access.py), besides its own.
- A client's message is parsed by the playground's one JSON guard (errors.parse_json):
  what it refuses closes the socket with 4007 (a binary frame: 4003), never a server
  error. The only message a client sends is a ping, answered at once from the event
  loop (the benchmarks use its round trip as a responsiveness probe).
"""

from __future__ import annotations

import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import accounts
from .errors import BadJson, parse_json
from .language import request_language

log = logging.getLogger(__name__)

# Close codes for what a client may not send: RFC 6455's 1003 and 1007 in the range
# left to applications (autobahn lets an application send only 1000 or 3000-4999).
UNSUPPORTED_DATA = 4003  # a binary frame: the protocol is JSON text
INVALID_PAYLOAD = 4007  # text that errors.parse_json refuses


class PlaygroundConsumer(AsyncJsonWebsocketConsumer):
    """A websocket that leaves its groups however it ends and takes only pings."""

    language: str = settings.LANGUAGE_CODE  # this client's, for the words it is sent
    groups_joined: list[str]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The consumer's whole life: however it ends (a handler that raised, a
        cancelled task), ``_leave()`` runs."""
        self.groups_joined = []
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._leave()

    def read_language(self) -> None:
        """This client's language, from its cookie or Accept-Language header."""
        headers = dict(self.scope.get("headers", []))
        self.language = request_language(headers.get(b"cookie", b"").decode("latin-1"),
                                         headers.get(b"accept-language", b"").decode("latin-1"))

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def join_account(self) -> None:
        """The groups of this browser session and of this account (none when anonymous)."""
        session = self.scope.get("session")
        for group in (accounts.session_group(getattr(session, "session_key", None)),
                      accounts.user_group(getattr(self.scope.get("user"), "pk", None))):
            if group:
                await self.join(group)

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        """Leave the groups, once (from ``disconnect()``, and again, as a no-op or the
        only call, from ``__call__``'s finally)."""
        groups, self.groups_joined = self.groups_joined, []
        for group in groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:  # noqa: BLE001 - e.g. Redis gone; the group expires
                log.warning("could not leave %s (%s)", group, exc)

    async def session_ended(self, event: dict[str, Any]) -> None:
        """The browser session logged out: what it showed is no longer this client's."""
        await self.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None,
                      **kwargs: Any) -> None:
        """A client message, parsed by the JSON guard; what it refuses (not JSON, deeper
        than errors.MAX_JSON_DEPTH, a lone surrogate) or a binary frame closes the
        socket with the code for it. channels' own version raised (1011 and a
        traceback in the log) and ``json.loads`` hits RecursionError on ``"[" * 10**5``."""
        if text_data is None:
            await self.close(code=UNSUPPORTED_DATA)
            return
        try:
            content = parse_json(text_data)
        except BadJson:
            await self.close(code=INVALID_PAYLOAD)
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "id": content.get("id")})
