"""A read-only look (issue 15, point 3): a teacher reads every part of a student's
sandbox (files, exchanges, raw bytes, exports, runs, check runs, the pages) and is
refused with 403 for every change but Stop; anyone else (another teacher, a classmate,
a student of another class) gets the same 404 as for a sandbox that does not exist.

The routes come from playground/urls.py (every URL with a sandbox in it) and their
methods from the API's own 405 answer, so a new write route is in the table the day
it is added. A real henaserver child answers; its exchange and a real check run are
what the reads read.

The old code: the teacher got 404 for everything (reads included).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from testkit.checkruns import finished, running_sandbox, start_run
from testkit.waiting import wait_until
from watch_people import People, make_people

from playground.class_models import TeacherNotice
from playground.models import Sandbox
from playground.traffic.ingest import ingestor

pytestmark = pytest.mark.django_db(transaction=True)

READS = {"GET"}
# A value for each URL parameter; the exchange and the check run are made to exist.
SAMPLES = {"path": "index.html", "part": "request", "name": "server_recv.txt"}
# A query for each read that needs one (the advice badges' counts are asked by seqs).
QUERY = {"api-advice-counts": "?seqs={seq}"}
# A body for each write, so that a refusal is about who asks, never about the body.
BODY = {"api-sandbox": {}, "api-mode": {"mode": "fixed"}, "api-rules": {"rules": []},
        "api-program": {"text": "print(1)\n"}, "api-file": "new text",
        "api-compose": {"raw": "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
        "api-checks": {"through": 1}, "api-starter": {}}


def sandbox_routes() -> list[tuple[str, set[str]]]:
    """Every URL name of the site whose route holds a sandbox id, with the URL
    parameters of the whole path."""
    found: list[tuple[str, set[str]]] = []

    def walk(patterns: list, params: set[str]) -> None:
        for pattern in patterns:
            here = params | set(pattern.pattern.regex.groupindex)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, here)
            elif isinstance(pattern, URLPattern) and "sandbox_id" in here:
                found.append((pattern.name, here))

    walk(get_resolver().url_patterns, set())
    return found


ROUTES = sandbox_routes()


def url_of(name: str, params: set[str], sandbox_id: int, seq: int, number: int) -> str:
    values: dict[str, Any] = {**SAMPLES, "sandbox_id": sandbox_id, "seq": seq,
                              "number": number}
    return (reverse(f"playground:{name}", kwargs={p: values[p] for p in params})
            + QUERY.get(name, "").format(seq=seq))


def methods_of(client: Any, url: str) -> set[str]:
    """The methods a URL takes: an API view answers an unlisted method with 405 and
    ``Allow``; a page takes GET only."""
    response = client.generic("PATCH", url)
    if response.status_code == 405 and response.has_header("Allow"):
        return {m.strip() for m in response["Allow"].split(",")}
    return {"GET"}


def send(client: Any, method: str, url: str, name: str) -> Any:
    body = BODY.get(name, {})
    if isinstance(body, str):
        return client.generic(method, url, body.encode(), content_type="text/plain")
    return client.generic(method, url, __import__("json").dumps(body),
                          content_type="application/json")


@pytest.fixture
def looked_at(free_port, raw_send) -> tuple[People, dict, int, int]:
    """The people, and the student's running henaserver sandbox with one recorded
    exchange (a POST with a body) and one finished check run."""
    people = make_people()
    sandbox = running_sandbox(people.student, free_port)
    assert people.student.put(sandbox["links"]["files"] + "index.html", b"<p>hi</p>",
                              content_type="text/html").status_code in (200, 201)
    raw_send(free_port, b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                        b"Connection: close\r\n\r\nhello")

    def stored() -> int | None:
        assert ingestor().sync()
        items = people.student.get(sandbox["links"]["exchanges"]).json()["exchanges"]
        return items[0]["seq"] if items else None

    seq = wait_until(stored, 15, "the exchange to be stored")
    run = finished(people.student, start_run(people.student, sandbox, through=1))
    return people, sandbox, seq, run["number"]


def calls(people: People, sandbox: dict, seq: int, number: int):
    """(name, method, url) for every route and method of the student's sandbox."""
    for name, params in ROUTES:
        url = url_of(name, params, sandbox["id"], seq, number)
        for method in sorted(methods_of(people.student, url)):
            yield name, method, url


def test_the_table_covers_every_sandbox_route():
    names = {name for name, _ in ROUTES}
    assert {"sandbox-page", "traffic-page", "api-sandbox", "api-stop", "api-file",
            "api-compose", "api-check-stop", "api-export-har"} <= names
    assert len(names) >= 24


def test_a_teacher_reads_everything_and_changes_nothing_but_stop(looked_at):
    people, sandbox, seq, number = looked_at
    table = list(calls(people, sandbox, seq, number))
    writes = {(n, m) for n, m, _u in table if m not in READS}
    assert writes >= {  # at least every write there was when this test was written
        ("api-sandbox", "DELETE"), ("api-start", "POST"), ("api-stop", "POST"),
        ("api-restart", "POST"), ("api-mode", "PUT"), ("api-rules", "PUT"),
        ("api-program", "PUT"), ("api-starter", "POST"), ("api-files", "POST"),
        ("api-file", "PUT"), ("api-file", "DELETE"), ("api-compose", "POST"),
        ("api-checks", "POST"), ("api-check-stop", "POST")}
    for name, method, url in table:
        if method in READS:
            # What the student reads (a henaserver sandbox has no program: 409).
            answer, own = people.teacher.get(url), people.student.get(url)
            assert own.status_code == (409 if name == "api-program" else 200), name
            assert answer.status_code == own.status_code, (name, answer.content[:300])
            assert answer["Content-Type"] == own["Content-Type"]
        elif name != "api-stop":
            answer = send(people.teacher, method, url, name)
            assert answer.status_code == 403, (name, method, url, answer.content[:300])
            assert "read-only" in answer.json()["error"], (name, method)
    # Nothing changed: still there, running, its files and mode as they were.
    row = Sandbox.objects.get(pk=sandbox["id"])
    assert row.status == "running" and row.mode == "full"
    files = people.student.get(sandbox["links"]["files"]).json()
    assert [f["path"] for f in files["files"]] == ["index.html"]
    assert people.student.get(sandbox["links"]["checks"]).json()["runs"][0]["number"] \
        == number  # no run started by the teacher
    assert not TeacherNotice.objects.exists()


@pytest.mark.parametrize("who", ["other_teacher", "classmate", "other_student"])
def test_anyone_else_gets_the_404_of_a_sandbox_that_does_not_exist(looked_at, who):
    people, sandbox, seq, number = looked_at
    client = getattr(people, who)
    for name, method, url in calls(people, sandbox, seq, number):
        answer = send(client, method, url, name) if method not in READS else client.get(url)
        assert answer.status_code == 404, (who, name, method, answer.content[:300])
    assert Sandbox.objects.get(pk=sandbox["id"]).status == "running"


def test_the_sandbox_json_says_who_looks(looked_at):
    people, sandbox, _seq, _number = looked_at
    assert people.student.get(sandbox["links"]["self"]).json()["viewer"] == "owner"
    seen = people.teacher.get(sandbox["links"]["self"]).json()
    assert seen["viewer"] == "teacher" and seen["notices"] == []
    # The teacher's own list holds only their own sandboxes, not the students'.
    assert people.teacher.get("/api/sandboxes/").json()["sandboxes"] == []
