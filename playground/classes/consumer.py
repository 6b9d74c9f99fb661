"""The class board's websocket, ``/ws/classes/<id>/`` (protocol in docs/api.md).

Thin, like the traffic consumer, and on the same base (sockets.py: its groups left
however it ends, the account's groups, the JSON guard, the ping): ``connect()`` checks
the Origin exactly (before the handshake is accepted: refused with 403) and that this
user teaches this class, joins the class's group, then sends the whole board. After
that, each ``board.student`` from classes/notify.py becomes one ``{"type": "student",
"student": ROW}`` read from the database, and ``board.members`` (someone joined or
left) the whole board again.

Refusals after the handshake carry a close code a page can act on: 4403 for someone who
is not a teacher (or not logged in), 4404 for a class that does not exist or is another
teacher's (the same answer for both, like the API's 404). The same codes close an open
board when its teacher loses the permission (``access_changed``, classes/access.py).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.utils import translation

from .. import accounts, origins
from ..class_models import Classroom
from ..sandboxes.ownership import is_teacher
from ..sockets import PlaygroundConsumer
from . import board, notify

NOT_A_TEACHER = 4403
NO_SUCH_CLASS = 4404


class BoardConsumer(PlaygroundConsumer):
    """One teacher's board of one class."""

    class_id: int = 0

    async def connect(self) -> None:
        if not origins.origin_allowed(self.scope):
            await self.close()  # before accept(): the handshake is refused with 403
            return
        self.class_id = int(self.scope["url_route"]["kwargs"]["class_id"])
        refusal = await database_sync_to_async(self._refusal)(self.scope.get("user"))
        if refusal:
            await self.accept()  # so the page gets a code it can explain
            await self.close(code=refusal)
            return
        self.read_language()  # this teacher's, for the rows' words
        await self.join(notify.group_name(self.class_id))
        await self.join_account()
        await self.accept()
        await self._send_board()

    async def access_changed(self, event: dict[str, Any]) -> None:
        """What this teacher may see shrank (classes/access.py: the permission lost,
        the account deactivated): the handshake's question is asked again."""
        refusal = await database_sync_to_async(self._refusal_now)()
        if refusal:
            await self.close(code=refusal)

    # ----- from classes/notify.py (group_send "type" -> method) ------------------------

    async def board_student(self, event: dict[str, Any]) -> None:
        row = await database_sync_to_async(self._row)(int(event["user"]))
        if row is None:  # no longer in the class: the list changed
            await self._send_board()
        else:
            await self.send_json({"type": "student", "student": row})

    async def board_members(self, event: dict[str, Any]) -> None:
        await self._send_board()

    async def _send_board(self) -> None:
        whole = await database_sync_to_async(self._board)()
        if whole is None:  # the class was deleted meanwhile
            await self.close(code=NO_SUCH_CLASS)
            return
        await self.send_json({"type": "board", **whole})

    # ----- database (run in a thread) ------------------------------------------------

    def _refusal(self, user: Any) -> int | None:
        if not is_teacher(user):
            return NOT_A_TEACHER
        if not Classroom.objects.filter(pk=self.class_id, teacher=user).exists():
            return NO_SUCH_CLASS
        return None

    def _refusal_now(self) -> int | None:
        return self._refusal(accounts.as_now(self.scope.get("user")))

    def _classroom(self) -> Classroom | None:
        return Classroom.objects.filter(pk=self.class_id).first()

    def _board(self) -> dict[str, Any] | None:
        classroom = self._classroom()
        if classroom is None:
            return None
        with translation.override(self.language):
            return board.board_json(classroom)

    def _row(self, user_id: int) -> dict[str, Any] | None:
        classroom = self._classroom()
        if classroom is None:
            return None
        with translation.override(self.language):
            return board.student_row(classroom, user_id)
