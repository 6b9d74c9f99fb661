"""A teacher's look ends when their access does, open websockets included (issue 15,
points 2 and 3): a student who leaves the class, a class deleted, a teacher who loses
the permission (removed from the group, from either side; the group emptied; the group
losing the permission; the account deactivated). HTTP asks at every request; a websocket asked
only at its handshake, so the change must reach the sockets already open: the
teacher's traffic websocket on the student's sandbox and the class board close with
4403, while the student's own viewer stays open.

The old code: both sockets stayed open and kept sending the student's traffic and the
board's rows to someone who may no longer see them.

Real ASGI application, real channel layer of the settings, no server child (a stopped
sandbox is enough to be looked at).
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from testkit.boards import teachers_group
from testkit.checkruns import viewer
from watch_people import People, make_people

from playground.asgi import application
from playground.class_models import Classroom

pytestmark = pytest.mark.django_db(transaction=True)

ACCESS_ENDED = 4403
WAIT = 30  # seconds for a message that comes at once on an idle machine


def board_socket(people: People, class_id: int) -> WebsocketCommunicator:
    session = people.teacher.cookies["sessionid"].value
    return WebsocketCommunicator(application, f"/ws/classes/{class_id}/", headers=[
        (b"host", b"testserver"), (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={session}".encode())])


async def close_code(socket: WebsocketCommunicator) -> int | None:
    """The code the server closes ``socket`` with (messages before it skipped)."""
    while True:
        output = await socket.receive_output(WAIT)
        if output["type"] == "websocket.close":
            return output.get("code")


async def still_open(socket: WebsocketCommunicator) -> None:
    await socket.send_json_to({"type": "ping", "id": 7})
    while (await socket.receive_json_from(WAIT))["type"] != "pong":
        pass


def stopped_sandbox(people: People, port: int) -> dict[str, Any]:
    made = people.student.post("/api/sandboxes/", {"name": "watched", "port": port},
                               content_type="application/json")
    assert made.status_code == 201, made.content
    return made.json()


async def open_looks(free_port: int) -> tuple[People, dict, Classroom, Any, Any, Any]:
    """The people, the student's sandbox, their class, and open sockets: the teacher's
    traffic viewer, the teacher's board, the student's own viewer."""
    people = await sync_to_async(make_people)()
    sandbox = await sync_to_async(stopped_sandbox)(people, free_port)
    classroom = await Classroom.objects.aget(teacher=people.teacher_user)
    look, board = viewer(people.teacher, sandbox["id"]), board_socket(people, classroom.pk)
    own = viewer(people.student, sandbox["id"])
    for socket in (look, board, own):
        assert (await socket.connect())[0]
    assert (await board.receive_json_from(WAIT))["type"] == "board"
    return people, sandbox, classroom, look, board, own


async def test_a_student_who_leaves_ends_the_teachers_open_look(free_port):
    people, sandbox, classroom, look, board, own = await open_looks(free_port)
    left = await sync_to_async(people.student.post)(f"/api/classes/{classroom.pk}/leave/")
    assert left.status_code == 200, left.content
    assert await close_code(look) == ACCESS_ENDED
    # The board stays (it is still the teacher's class), without the student.
    while (message := await board.receive_json_from(WAIT))["type"] != "board":
        pass
    assert message["students"] and all(s["username"] != "hana" for s in message["students"])
    await still_open(own)  # the student's own viewer is theirs
    answer = await sync_to_async(people.teacher.get)(sandbox["links"]["self"])
    assert answer.status_code == 404
    for socket in (board, own):
        await socket.disconnect()


async def test_a_class_deleted_ends_the_teachers_open_look(free_port):
    people, sandbox, classroom, look, board, own = await open_looks(free_port)
    await classroom.adelete()
    assert await close_code(look) == ACCESS_ENDED
    assert await close_code(board) is not None
    await still_open(own)
    await own.disconnect()


async def _removed_from_group(people: People) -> None:
    await people.teacher_user.groups.aremove(await sync_to_async(teachers_group)())


async def _group_removes_them(people: People) -> None:
    await (await sync_to_async(teachers_group)()).user_set.aremove(people.teacher_user)


async def _group_cleared(people: People) -> None:
    await (await sync_to_async(teachers_group)()).user_set.aclear()


async def _deactivated(people: People) -> None:
    people.teacher_user.is_active = False
    await people.teacher_user.asave()


async def _group_loses_the_permission(people: People) -> None:
    group = await sync_to_async(teachers_group)()
    await group.permissions.aremove(await Permission.objects.aget(codename="teach"))


@pytest.mark.parametrize("lose", [_removed_from_group, _group_removes_them, _group_cleared,
                                  _deactivated, _group_loses_the_permission],
                         ids=lambda f: f.__name__.strip("_"))
async def test_a_teacher_who_loses_the_permission_loses_the_open_board_and_look(
        free_port, lose):
    people, sandbox, classroom, look, board, own = await open_looks(free_port)
    await lose(people)
    assert await close_code(look) == ACCESS_ENDED
    assert await close_code(board) == ACCESS_ENDED
    await still_open(own)
    await own.disconnect()
