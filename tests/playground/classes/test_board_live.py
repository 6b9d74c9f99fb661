"""The class board live (issue 15 point 2): a teacher's board websocket on one daphne
process hears, within moments, what a student does through another (the documented
multi-process setup: Redis channel layer, docs/deploy.md): a sandbox created, started,
a check run's progress and its end; a student who joins from a management-command-like
process (the ORM, no server) reloads the list. Only the class's teacher gets in.

Real processes: two daphne, a real henaserver sandbox, a real redis-server, real
websockets (bench/wsclient.py). No timing is asserted; each message is awaited.
"""

import json
import subprocess
import sys

import pytest
from testkit.class_browsers import make_class
from testkit.class_browsers import session as _login
from testkit.playgrounds import REPO, Browser, Daphne, migrate, playground_env, two_daphnes

sys.path.insert(0, str(REPO / "bench"))
from wsclient import WebSocket  # noqa: E402  (bench's websocket client, stdlib)

# Waits: a message each, bounded by the socket's timeout (a check run of one stage
# is seconds; generous for a loaded machine).
READ_TIMEOUT = 120

JOIN = """
import django; django.setup()
from django.contrib.auth.models import User
from playground.class_models import Classroom, Membership
Membership.objects.create(classroom=Classroom.objects.get(join_code="ABCD2345"),
                          user=User.objects.get(username="ben"))
"""


def _orm(env: dict, code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _board(site: Daphne, browser: Browser | None, class_id: int) -> WebSocket:
    headers = {"Origin": site.base}
    if browser is not None:
        headers["Cookie"] = f"sessionid={browser.cookie('sessionid')}"
    ws = WebSocket("127.0.0.1", site.port, f"/ws/classes/{class_id}/", headers)
    ws.sock.settimeout(READ_TIMEOUT)
    return ws


def _until(ws: WebSocket, matches, what: str) -> dict:
    """The first message ``matches`` accepts (earlier ones skipped)."""
    while True:
        text = ws.recv()
        assert text is not None, f"closed ({ws.close_code}) before {what}"
        message = json.loads(text)
        if matches(message):
            return message


def _student(message: dict, user_id: int, check) -> bool:
    return message["type"] == "student" and message["student"]["id"] == user_id and \
        check(message["student"])


@pytest.fixture
def sites(tmp_path, redis_url, free_ports):
    sandbox_port, port_a, port_b = free_ports(3)
    env = playground_env(tmp_path, REDIS_URL=redis_url,
                         PLAYGROUND_PORT_RANGE=f"{sandbox_port}-{sandbox_port}")
    migrate(env)
    with two_daphnes(env, tmp_path, port_a, port_b) as made:
        yield env, sandbox_port, made


def test_the_board_follows_a_student_across_processes(sites):
    env, sandbox_port, (a, b) = sites
    ids = make_class(env, ("aiko",), other_teachers=("suzuki",), outsiders=("ben",))
    teacher, aiko = _login(b, "sato"), _login(a, "aiko")
    ws = _board(b, teacher, ids["class"])
    opening = json.loads(ws.recv())
    assert opening["type"] == "board" and opening["class"]["join_code"] == "ABCD-2345"
    assert [(s["username"], s["sandboxes"]) for s in opening["students"]] == [("aiko", [])]

    sandbox = aiko.new_sandbox(a, "site-1", sandbox_port)
    _until(ws, lambda m: _student(m, ids["aiko"], lambda s: [x["status"] for x in
                                                             s["sandboxes"]] == ["stopped"]),
           "the new sandbox")
    status, started = aiko.call(a, "POST", sandbox["links"]["start"])
    assert status == 200 and started["status"] == "running"
    _until(ws, lambda m: _student(m, ids["aiko"], lambda s: s["sandboxes"][0]["status"]
                                  == "running"), "the sandbox running")
    status, run = aiko.call(a, "POST", sandbox["links"]["checks"], {"through": 1})
    assert status == 202, run
    row = _until(ws, lambda m: _student(m, ids["aiko"], lambda s: s["last_check"] and
                                        s["last_check"]["state"] == "passed"),
                 "the check run's end")["student"]
    assert row["reached"] == 1 and row["stuck_on"] is None and row["last_failure"] is None
    assert row["last_check"]["number"] == run["number"] and row["last_check"]["ended_at"]

    _orm(env, JOIN)  # a process without a server: straight to Redis
    joined = _until(ws, lambda m: m["type"] == "board", "the new member")
    assert [s["username"] for s in joined["students"]] == ["aiko", "ben"]

    status, _ = aiko.call(a, "DELETE", sandbox["links"]["self"])
    assert status == 200
    _until(ws, lambda m: _student(m, ids["aiko"], lambda s: s["sandboxes"] == []),
           "the sandbox deleted")
    ws.close()


def test_only_the_class_teacher_gets_the_board(sites):
    env, _, (a, _b) = sites
    ids = make_class(env, ("aiko",), other_teachers=("suzuki",), outsiders=("ben",))
    for who, browser, code in (("another teacher", _login(a, "suzuki"), 4404),
                               ("a student", _login(a, "aiko"), 4403),
                               ("anonymous", None, 4403)):
        ws = _board(a, browser, ids["class"])
        assert ws.recv() is None and ws.close_code == code, who
    teacher = _login(a, "sato")
    assert json.loads(_board(a, teacher, ids["class"] + 1).recv() or "null") is None
    # An Origin that is not the playground's own (a sandbox's page): no handshake.
    with pytest.raises(ConnectionError, match="403"):
        WebSocket("127.0.0.1", a.port, f"/ws/classes/{ids['class']}/", {
            "Origin": "http://127.0.0.1:1", "Cookie": f"sessionid={teacher.cookie('sessionid')}"})
