"""One request to everyone (issue 15 point 4; docs/classes.md "One request to
everyone"): real henaserver sandboxes of real students, the teacher's request through
the real API, each answer against a real full-mode henaserver serving the same folder,
and the marks in each student's traffic. Classes and members made with the ORM.

transaction=True: the supervisor's threads and the async view write to the database.
"""

from __future__ import annotations

import base64
import json
import os
import threading

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from testkit.boards import classroom, logged_in, send_to_all, student, teacher
from testkit.checkruns import running_sandbox
from testkit.waiting import wait_until

from playground.class_models import Classroom, TeacherNotice
from playground.files.storage import root_of
from playground.models import CheckPort, Exchange, Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = b"<!DOCTYPE html>\n<title>Hello</title>\n<h1>Hello</h1>\n"
PAGE_TIME = 1_700_000_000  # 2023-11-14, any fixed second
GET_INDEX = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def url(klass) -> str:
    return f"/api/classes/{klass.pk}/broadcast/"


def send(client: Client, klass, data: bytes = GET_INDEX, **fields):
    return send_to_all(client, klass, data, **{"line_endings": "exact", **fields})


@pytest.fixture
def klass():
    return classroom(teacher("sato", first_name="Kenji", last_name="Sato"))


@pytest.fixture
def sato(klass):
    return logged_in(klass.teacher)


def a_student(klass, name: str, port: int, mode: str = "full") -> tuple[Client, dict]:
    """A student with a running henaserver sandbox in ``mode`` serving an index.html."""
    client = logged_in(student(klass, name))
    sandbox = running_sandbox(client, port, mode)
    page = root_of(Sandbox.objects.get(pk=sandbox["id"])) / "index.html"
    page.write_bytes(PAGE)
    # Folders of the same bytes share one reference server, serving one of them
    # (reference.fingerprint): one time for every copy keeps its Last-Modified and ETag
    # each student's own, whichever second each copy was written in.
    os.utime(page, (PAGE_TIME, PAGE_TIME))
    return client, sandbox


def by_student(answer: dict) -> dict[str, dict]:
    return {r["student"]["username"]: r for r in answer["results"]}


def test_each_running_sandbox_answers_and_is_compared_with_henaserver(
        klass, sato, free_ports):
    ports = free_ports(4)
    a_student(klass, "aoi", ports[0], "full")
    a_student(klass, "ren", ports[1], "no-content-type")
    a_student(klass, "mio", ports[2], "record-only")
    idle = logged_in(student(klass, "yui"))  # a stopped sandbox gets nothing
    idle.post("/api/sandboxes/", {"name": "idle", "port": ports[3]},
              content_type="application/json")

    response = send(sato, klass)

    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["total"], answer["answered"]) == (3, 3)
    assert base64.b64decode(answer["request_b64"]) == GET_INDEX
    results = by_student(answer)
    assert set(results) == {"aoi", "ren", "mio"}
    # full mode: the reference itself, every byte alike but the second it answered in.
    aoi = results["aoi"]
    assert base64.b64decode(aoi["response_b64"]).startswith(b"HTTP/1.1 200 OK\r\n")
    assert aoi["diff"]["same_apart_from_expected"], aoi["diff"]
    assert {r["field"] for r in aoi["diff"]["ranges"]} <= {"date"}
    # no-content-type: the one header that differs is marked, and not as expected.
    ren = results["ren"]
    reference = base64.b64decode(ren["reference"]["response_b64"])
    mine = base64.b64decode(ren["response_b64"])
    assert b"Content-Type: text/html" in reference and mine != reference
    wrong = [r for r in ren["diff"]["ranges"] if not r["expected"]]
    assert wrong, ren["diff"]
    assert not ren["diff"]["same_apart_from_expected"]
    for each in wrong:  # the bytes that differ lie in the Content-Type line
        start, end = each["reference"]
        line_start = reference.rindex(b"\r\n", 0, start + 1)
        assert reference[line_start:].startswith(b"\r\nContent-Type:"), each
    # record-only: nothing came back; the reference's whole answer is missing.
    mio = results["mio"]
    assert (mio["response_b64"], mio["ended"], mio["error"]) == ("", "closed", None)
    assert [r["op"] for r in mio["diff"]["ranges"]] == ["missing"]


def test_each_exchange_is_marked_sent_by_the_teacher(klass, sato, free_ports, raw_send):
    first, second = free_ports(2)
    aoi, aoi_sandbox = a_student(klass, "aoi", first)
    ren, ren_sandbox = a_student(klass, "ren", second)
    assert raw_send(first, GET_INDEX).startswith(b"HTTP/1.1 200")  # the student's own

    results = by_student(send(sato, klass).json())

    for client, sandbox, name in ((aoi, aoi_sandbox, "aoi"), (ren, ren_sandbox, "ren")):
        seq = results[name]["seq"]
        assert seq is not None, results[name]
        listed = client.get(sandbox["links"]["exchanges"]).json()["exchanges"]
        marked = {e["seq"]: e["sent_by"] for e in listed}
        assert marked[seq] == "teacher"
        assert [s for s, by in marked.items() if by] == [seq]
        notice = TeacherNotice.objects.get(sandbox_id=sandbox["id"])
        assert (notice.action, notice.teacher_name) == ("broadcast", "Kenji Sato")
        shown = client.get(sandbox["links"]["self"]).json()["notices"]
        assert shown[0]["text"].startswith("Your teacher Kenji Sato sent it a request at")
    # The ports did their job: none left behind.
    assert not CheckPort.objects.filter(sent_by="teacher").exists()


def test_the_stream_says_how_many_answered_as_they_come(klass, sato, free_ports):
    for number, port in enumerate(free_ports(2)):
        a_student(klass, f"s{number}", port)
    response = sato.post(url(klass), {"request_b64": base64.b64encode(GET_INDEX).decode()},
                         content_type="application/json",
                         HTTP_ACCEPT="application/x-ndjson")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    async def read_all() -> bytes:  # an async view's stream is an async iterator
        return b"".join([chunk async for chunk in response.streaming_content])

    lines = [json.loads(line) for line in async_to_sync(read_all)().splitlines()]
    assert [line["type"] for line in lines] == ["start", "answer", "answer", "done"]
    assert (lines[0]["total"], lines[-1]["answered"]) == (2, 2)


def test_a_preset_of_the_composer_is_sent_as_it_is(klass, sato, free_port):
    a_student(klass, "aoi", free_port)
    presets = {p["id"]: p for p in sato.get(url(klass)).json()["presets"]}
    malformed = presets["malformed"]["text"].encode()
    answer = send(sato, klass, malformed, line_endings="crlf").json()
    [result] = answer["results"]
    assert base64.b64decode(result["response_b64"]).startswith(b"HTTP/1.1 400 ")
    assert result["diff"]["same_apart_from_expected"], result["diff"]


def test_get_says_how_many_sandboxes_are_running(klass, sato, free_port):
    assert sato.get(url(klass)).json()["running"] == 0
    a_student(klass, "aoi", free_port)
    data = sato.get(url(klass)).json()
    assert data["running"] == 1
    assert "malformed" in {p["id"] for p in data["presets"]}


def test_no_running_sandbox_is_a_clear_409(klass, sato):
    student(klass, "aoi")
    response = send(sato, klass)
    assert response.status_code == 409
    assert response.json() == {"error": "no student of this class has a running sandbox: "
                                        "nothing was sent", "running": 0}


def test_in_japanese(klass, sato, compiled_translations):
    response = sato.post(url(klass), {"request_b64": base64.b64encode(GET_INDEX).decode()},
                         content_type="application/json", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 409
    assert response.json()["error"] == ("このクラスで起動中のサンドボックスを持つ学生が"
                                        "いません。何も送信していません")


def test_only_the_teacher_of_the_class(klass, free_port):
    aoi, _ = a_student(klass, "aoi", free_port)
    other = logged_in(teacher("tanaka"))
    for client, status in ((aoi, 403), (Client(), 403), (other, 404)):
        for method in (client.get, client.post):
            response = method(url(klass))
            assert response.status_code == status, (client, response.content)
            assert "error" in response.json()
    assert send(other, klass).status_code == 404
    assert not TeacherNotice.objects.exists()
    assert not Exchange.objects.filter(sent_by="teacher").exists()


def test_bad_bytes_are_a_400(klass, sato, free_port):
    a_student(klass, "aoi", free_port)
    response = sato.post(url(klass), {"request_b64": "%%%"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "request_b64"
    assert send(sato, klass, b"").json() == {
        "error": "the request is empty: type at least a request line"}


def test_a_double_click_sends_once(klass, sato, free_port):
    a_student(klass, "aoi", free_port)
    slow = {"pieces": 5, "delay_ms": 300}
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(
        response=send(sato, klass, **slow)))
    thread.start()
    try:
        wait_until(lambda: Classroom.objects.get(pk=klass.pk).broadcast_started_at, 30,
                   "the first broadcast")
        second = send(logged_in(klass.teacher), klass, **slow)
    finally:
        thread.join(60)
    assert second.status_code == 409
    assert "already being sent" in second.json()["error"]
    assert first["response"].status_code == 200
    assert TeacherNotice.objects.count() == 1
    assert Classroom.objects.get(pk=klass.pk).broadcast_started_at is None  # released
