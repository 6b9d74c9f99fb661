"""How changes reach the class board (classes/notify.py): a burst of live messages
about one student's sandbox (a check run sends one per check) becomes one
``board.student`` message to each of the student's classes, after the burst; traffic
batches never reach the board; students of no class send nothing.

The real listener on the real ``live.publish`` and the real in-memory channel layer, on
this test's loop (as daphne's would be). Ordering proves the count: after the burst's
one message, the next message is about the next change, not a repeat.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from testkit import boards

from playground.classes import notify
from playground.models import Sandbox
from playground.traffic import live

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
              pytest.mark.usefixtures("fresh_layer")]


def _class_of_two(port: int):
    sato = boards.teacher("sato")
    room = boards.classroom(sato)
    other = boards.classroom(boards.teacher("suzuki"), "HTTP 2", "WXYZ6789")
    aiko, ben = boards.student(room, "aiko"), boards.student(room, "ben")
    loner = boards.teacher("loner")  # in no class
    from playground.class_models import Membership
    Membership.objects.create(classroom=other, user=aiko)  # Aiko is in two classes
    sandbox = Sandbox.objects.create(user=aiko, name="site-1", port=port)
    lonely = Sandbox.objects.create(user=loner, name="alone", port=port + 1)
    return room, other, aiko, ben, sandbox, lonely


async def test_a_burst_is_one_message_per_class_and_traffic_is_not_one(free_port):
    room, other, aiko, ben, sandbox, lonely = await sync_to_async(_class_of_two)(free_port)
    live.remember_loop(asyncio.get_running_loop())
    layer = get_channel_layer()
    channels = {}
    for classroom in (room, other):
        channels[classroom.pk] = await layer.new_channel()
        await layer.group_add(notify.group_name(classroom.pk), channels[classroom.pk])

    # A check run's dozen progress messages, a status, a run, and traffic batches.
    for _ in range(12):
        live.publish(sandbox.pk, {"type": "checks.progress", "run": 1, "state": "running"})
        live.publish(lonely.pk, {"type": "checks.progress", "run": 2, "state": "running"})
        live.publish(sandbox.pk, {"type": "traffic.batch", "stats": {}})
    live.publish(sandbox.pk, {"type": "sandbox.status", "status": {"status": "running"}})
    live.publish(sandbox.pk, {"type": "traffic.run", "run": 1})
    for classroom in (room, other):
        message = await asyncio.wait_for(layer.receive(channels[classroom.pk]), 30)
        assert message == {"type": "board.student", "user": aiko.pk}

    # The next change is the next message in Aiko's classes: nothing else was queued.
    notify.student_changed(ben.pk)
    message = await asyncio.wait_for(layer.receive(channels[room.pk]), 30)
    assert message == {"type": "board.student", "user": ben.pk}
    live.publish(sandbox.pk, {"type": "traffic.batch", "stats": {}})  # never a board's
    live.publish(sandbox.pk, {"type": "traffic.run", "run": 2})
    message = await asyncio.wait_for(layer.receive(channels[other.pk]), 30)
    assert message == {"type": "board.student", "user": aiko.pk}


async def test_joining_and_leaving_reload_the_list(free_port):
    room, _other, _aiko, _ben, _sandbox, _lonely = await sync_to_async(_class_of_two)(free_port)
    live.remember_loop(asyncio.get_running_loop())
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(notify.group_name(room.pk), channel)

    def join_then_leave():
        from django.contrib.auth.models import User

        from playground.class_models import Membership
        carl = User.objects.create_user("carl")
        joined = Membership.objects.create(classroom=room, user=carl)
        joined.delete()

    await sync_to_async(join_then_leave)()
    for _ in ("joined", "left"):
        message = await asyncio.wait_for(layer.receive(channel), 30)
        assert message == {"type": "board.members"}
