"""Hostile students' servers in one broadcast (real programs under the real bubblewrap,
behind the real capture relay): one sends 100 MB, one drips a byte at a time forever,
and one closes at once without a word. The broadcast still
ends, with each answer cut at the composer's bounds (time, size), every other
student's answer and reference intact, the class free again and no reference server
left running.

transaction=True: the supervisor's threads and the async view write to the database.
"""

from __future__ import annotations

import base64

import pytest
from broadcast_programs import GET, running_program, server
from testkit.boards import classroom, logged_in, send_to_all, teacher
from testkit.program_api import isolated_playground

from playground.class_models import Classroom
from playground.classes import broadcast, reference
from playground.compose import composer

pytestmark = pytest.mark.django_db(transaction=True)

ANSWERS = {
    "flood": "c.recv(65536)\n[c.sendall(b'x' * 65536) for _ in range(1600)]",  # 100 MB
    "drip": "c.recv(65536)\nwhile True:\n    c.sendall(b'x')\n    time.sleep(0.2)",
    "slam": "pass",  # closes at once, the request unread
}


@pytest.fixture(autouse=True)
def isolated(playground_settings):
    with isolated_playground(playground_settings) as settings:
        yield settings


def test_hostile_servers_are_cut_at_the_bounds(free_ports):
    klass = classroom(teacher("sato"))
    for (name, answer), port in zip(ANSWERS.items(), free_ports(len(ANSWERS)), strict=True):
        running_program(klass, name, port, server(answer))

    response = send_to_all(logged_in(klass.teacher), klass, GET)

    assert response.status_code == 200, response.content
    results = {r["student"]["username"]: r for r in response.json()["results"]}
    assert set(results) == set(ANSWERS)
    flood, drip = results["flood"], results["drip"]
    assert (flood["ended"], flood["response_length"]) == ("size_limit",
                                                          composer.MAX_RESPONSE_BYTES)
    assert len(base64.b64decode(flood["response_b64"])) == broadcast.SHOWN_BYTES
    assert drip["ended"] == "time_limit" and 0 < drip["response_length"]
    assert results["slam"]["response_length"] == 0
    for result in results.values():  # henaserver's answer beside each
        assert base64.b64decode(result["reference"]["response_b64"]).startswith(b"HTTP/1.1 ")
    assert reference.supervisor().pids() == {}
    assert Classroom.objects.get(pk=klass.pk).broadcast_started_at is None
