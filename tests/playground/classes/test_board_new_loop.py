"""classes/notify.py across event loops: a change noted on a loop that stops before its
coalesced flush runs (a server restarted in the same process; each async test's own
loop) must not keep later changes, on the next loop, from reaching the board.

The old code kept a "flush scheduled" flag that only the flush reset: once a loop
stopped in between, no board heard of any change again (the board tests then failed or
passed by the order they ran in).
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from testkit import boards

from playground.classes import notify
from playground.traffic import live

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]


def test_a_change_on_a_stopped_loop_does_not_stall_the_next_one():
    room = boards.classroom(boards.teacher("sato"))
    aiko, ben = boards.student(room, "aiko"), boards.student(room, "ben")

    async def noted_then_stopped() -> None:
        live.remember_loop(asyncio.get_running_loop())
        notify.student_changed(aiko.pk)
        await asyncio.sleep(0)  # the flush is scheduled; the loop ends before it runs

    first = asyncio.new_event_loop()
    first.run_until_complete(noted_then_stopped())
    first.close()

    async def next_change_reaches_the_board() -> dict:
        live.remember_loop(asyncio.get_running_loop())
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(notify.group_name(room.pk), channel)
        await sync_to_async(notify.student_changed)(ben.pk)
        while True:  # Aiko's change, left over, may come first
            message = await asyncio.wait_for(layer.receive(channel), 30)
            if message["user"] == ben.pk:
                return message

    second = asyncio.new_event_loop()
    try:
        assert second.run_until_complete(next_change_reaches_the_board()) == \
            {"type": "board.student", "user": ben.pk}
    finally:
        second.close()
