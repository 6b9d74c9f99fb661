"""The class board's JSON (docs/api.md, GET /api/classes/<id>/board/) and its page:
rows built from real sandboxes and real check runs (henaserver in a mode that fails a
known stage, docs/checks.md's table), and who may see them."""

import pytest
from django.test import Client
from testkit import boards
from testkit.checkruns import finished, running_sandbox, start_run

pytestmark = pytest.mark.django_db(transaction=True)


def _board(client: Client, classroom) -> dict:
    response = client.get(f"/api/classes/{classroom.pk}/board/")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_row_per_student_from_their_sandboxes_and_check_runs(free_ports):
    sato = boards.teacher("sato")
    room = boards.classroom(sato)
    aiko = boards.student(room, "aiko", first_name="Aiko", last_name="Tanaka")
    boards.student(room, "ben")
    teacher = boards.logged_in(sato)
    first = _board(teacher, room)
    assert first["class"] == {"id": room.pk, "name": "HTTP 1", "join_code": "ABCD-2345"}
    rows = {row["username"]: row for row in first["students"]}
    assert rows["ben"] == {**rows["ben"], "sandboxes": [], "reached": 0, "stuck_on": None,
                           "last_check": None, "last_failure": None}
    assert rows["aiko"]["name"] == "Aiko Tanaka" and rows["ben"]["name"] == "ben"

    # Aiko's server labels every file text/html: stage 6 fails, 1-5 pass.
    port, _ = free_ports(2)
    student = boards.logged_in(aiko)
    sandbox = running_sandbox(student, port, "no-content-type")
    run = finished(student, start_run(student, sandbox, 6))
    assert run["state"] == "failed" and run["reached"] == 5
    row = next(r for r in _board(teacher, room)["students"] if r["username"] == "aiko")
    assert row["sandboxes"] == [{
        "id": sandbox["id"], "name": "checked", "kind": "henaserver", "status": "running",
        "status_text": "running", "port": port,
        "links": {"page": f"/sandboxes/{sandbox['id']}/",
                  "traffic": f"/sandboxes/{sandbox['id']}/traffic/"}}]
    assert row["reached"] == 5 and row["stuck_on"] == 6
    assert row["last_check"] == {"sandbox": sandbox["id"], "number": 1, "state": "failed",
                                 "reached": 5, "through": 6, "ended_at": run["ended_at"]}
    failed = next(c for s in run["stages"] for c in s["checks"] if not c["passed"])
    failure = row["last_failure"]
    assert failure["sandbox"] == sandbox["id"] and failure["check"] == failed["label"]
    assert failure["message"] == failed["failure"]["message"]
    # The link is checks.js's "Show the byte": the exchange, the caret, the check.
    mark = f"{failed['failure']['side']}%3A{failed['failure']['offset']}"
    assert failure["link"] == (f"/sandboxes/{sandbox['id']}/traffic/?exchange="
                               f"{failed['failure']['exchange']}&mark={mark}"
                               f"&check={failed['label']}")
    assert row["changed_at"] >= run["ended_at"]
    # In the teacher's language.
    japanese = teacher.get(f"/api/classes/{room.pk}/board/", HTTP_ACCEPT_LANGUAGE="ja").json()
    row = next(r for r in japanese["students"] if r["username"] == "aiko")
    assert row["sandboxes"][0]["status_text"] == "実行中"
    assert row["last_failure"]["message"] != failure["message"]
    student.post(sandbox["links"]["stop"])


def test_only_the_class_teacher_sees_the_board():
    sato, suzuki = boards.teacher("sato"), boards.teacher("suzuki")
    room = boards.classroom(sato)
    aiko = boards.student(room, "aiko")
    url, page = f"/api/classes/{room.pk}/board/", f"/classes/{room.pk}/"
    answers = {
        "another teacher": (boards.logged_in(suzuki), 404),
        "a student of the class": (boards.logged_in(aiko), 403),
        "anonymous": (Client(), 403),
    }
    for who, (client, status) in answers.items():
        response = client.get(url)
        assert response.status_code == status, who
        assert set(response.json()) == {"error"}, who
    assert boards.logged_in(sato).get(f"/api/classes/{room.pk + 1}/board/").status_code == 404
    assert boards.logged_in(sato).post(url).status_code == 405
    # The page: the teacher's, a friendly 404/403 page for others, login for anonymous.
    assert boards.logged_in(sato).get(page).status_code == 200
    assert boards.logged_in(suzuki).get(page).status_code == 404
    assert boards.logged_in(aiko).get(page).status_code == 403
    anonymous = Client().get(page)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_the_page_carries_the_board_and_its_empty_state():
    sato = boards.teacher("sato")
    room = boards.classroom(sato, "Empty class", "WXYZ6789")
    html = boards.logged_in(sato).get(f"/classes/{room.pk}/").content.decode()
    assert 'id="board-data"' in html and '"students": []' in html
    assert f'data-socket-path="/ws/classes/{room.pk}/"' in html
    assert "share the join code <strong>WXYZ-6789</strong>" in html
    japanese = boards.logged_in(sato, "ja").get(f"/classes/{room.pk}/").content.decode()
    assert "参加コード" in japanese and "クラスボード" in japanese
