"""A read-only look (issue 15, point 3), continued: the teacher's one change, Stop, and
the student told on their card; the traffic websocket open to the teacher, live, and
closed to anyone else. A real henaserver child; the websocket through the real ASGI
application.

The old code: the teacher's Stop answered 404, and their websocket was refused.
"""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from testkit.checkruns import running_sandbox, viewer
from watch_people import make_people

from playground.class_models import TeacherNotice
from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_teacher_may_stop_a_students_sandbox_and_the_student_is_told(free_port,
                                                                        pid_gone):
    people = make_people()
    sandbox = running_sandbox(people.student, free_port)
    stopped = people.teacher.post(sandbox["links"]["stop"])
    assert stopped.status_code == 200, stopped.content
    assert stopped.json()["status"] == "stopped" and stopped.json()["viewer"] == "teacher"
    assert pid_gone(sandbox["pid"])
    # A second click: still stopped, and still one notice.
    assert people.teacher.post(sandbox["links"]["stop"]).status_code == 200
    (notice,) = TeacherNotice.objects.all()
    assert (notice.action, notice.teacher_name, notice.sandbox_id) == \
        ("stopped", "Sato", sandbox["id"])

    seen = people.student.get(sandbox["links"]["self"]).json()
    assert seen["viewer"] == "owner"
    (told,) = seen["notices"]
    assert told["action"] == "stopped" and told["teacher"] == "Sato"
    assert re.fullmatch(r"Stopped by your teacher Sato at \d\d:\d\d", told["text"])
    # On the home page's card too (its initial data) and on the sandbox's page.
    assert told["text"] in people.student.get("/").content.decode()
    assert told["text"] in people.student.get(seen["links"]["page"]).content.decode()
    # Started again and stopped again by the teacher: a second notice, newest first.
    assert people.student.post(sandbox["links"]["start"]).json()["status"] == "running"
    assert people.teacher.post(sandbox["links"]["stop"]).status_code == 200
    assert len(people.student.get(sandbox["links"]["self"]).json()["notices"]) == 2


def test_the_student_reads_the_notice_in_their_language(free_port, compiled_translations):
    people = make_people(language="ja")
    sandbox = running_sandbox(people.student, free_port)
    assert people.teacher.post(sandbox["links"]["stop"]).status_code == 200
    (told,) = people.student.get(sandbox["links"]["self"]).json()["notices"]
    assert re.fullmatch(r"\d\d:\d\dに先生のSatoさんが停止しました", told["text"]), told


def test_the_owners_stop_leaves_no_notice(free_port):
    people = make_people()
    sandbox = running_sandbox(people.student, free_port)
    assert people.student.post(sandbox["links"]["stop"]).json()["status"] == "stopped"
    assert not TeacherNotice.objects.exists()


def test_another_teacher_cannot_stop_it(free_port):
    people = make_people()
    sandbox = running_sandbox(people.student, free_port)
    for who in (people.other_teacher, people.classmate, people.other_student):
        assert who.post(sandbox["links"]["stop"]).status_code == 404
    assert Sandbox.objects.get(pk=sandbox["id"]).status == "running"


async def test_the_teacher_watches_the_traffic_live_and_others_are_refused(free_port,
                                                                          raw_send):
    people = await sync_to_async(make_people)()
    sandbox = await sync_to_async(running_sandbox)(people.student, free_port)
    for outsider in (people.other_teacher, people.classmate, people.other_student):
        refused = viewer(outsider, sandbox["id"])
        assert not (await refused.connect())[0]
    teacher = viewer(people.teacher, sandbox["id"])
    assert (await teacher.connect())[0]
    assert (await teacher.receive_json_from(10))["type"] == "stats"  # the opening
    await sync_to_async(raw_send)(free_port, b"GET /watched HTTP/1.1\r\nHost: x\r\n"
                                             b"Connection: close\r\n\r\n")
    while True:  # the new exchange arrives live, as it does for the student
        message = await teacher.receive_json_from(15)
        if message["type"] == "exchanges":
            assert message["items"][0]["target"] == "/watched"
            break
    # The socket takes nothing that changes the sandbox: a ping is all it answers.
    await teacher.send_json_to({"type": "ping", "id": 3})
    while (message := await teacher.receive_json_from(10))["type"] != "pong":
        pass
    await teacher.disconnect()
