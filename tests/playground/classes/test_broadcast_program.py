"""A broadcast reaches a learner's own program too (under the real bubblewrap, behind
the real capture relay): its answer comes back, is compared with henaserver's from the
same folder, and the relay's exchange is marked as sent by the teacher.

transaction=True: the supervisor's threads and the async view write to the database.
"""

from __future__ import annotations

import base64

import pytest
from broadcast_programs import GET, running_program, server
from testkit.boards import classroom, logged_in, send_to_all, teacher
from testkit.program_api import get_json, isolated_playground

pytestmark = pytest.mark.django_db(transaction=True)

# The tutorial's first server, with a mistake a teacher wants everyone to see: no
# Content-Type, and a body that is not the file asked for.
PROGRAM = server('c.recv(65536)\n'
                 'c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n'
                 'Connection: close\\r\\n\\r\\nHello")')


@pytest.fixture(autouse=True)
def isolated(playground_settings):
    with isolated_playground(playground_settings) as settings:
        yield settings


def test_a_program_sandbox_answers_and_is_marked(free_port):
    klass = classroom(teacher("sato"))
    learner, sandbox = running_program(klass, "aoi", free_port, PROGRAM)

    response = send_to_all(logged_in(klass.teacher), klass, GET)

    assert response.status_code == 200, response.content
    [result] = response.json()["results"]
    assert result["sandbox"]["kind"] == "program"
    assert base64.b64decode(result["response_b64"]).endswith(b"\r\n\r\nHello")
    reference = base64.b64decode(result["reference"]["response_b64"])
    assert reference.startswith(b"HTTP/1.1 "), result["reference"]
    assert not result["diff"]["same_apart_from_expected"]
    assert result["seq"] is not None
    listed = get_json(learner, sandbox["links"]["exchanges"],
                      lambda d: d["exchanges"])["exchanges"]
    assert {e["seq"]: e["sent_by"] for e in listed}[result["seq"]] == "teacher"
