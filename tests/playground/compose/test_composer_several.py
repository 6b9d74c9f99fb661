"""The composer's tools through the API, against real sandboxes: one request to several
of your own (the answers diffed against the first's), and a curl command as bytes."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from testkit.checkruns import running_sandbox

from playground.compose import curl

pytestmark = pytest.mark.django_db(transaction=True)

SEVERAL = "/api/compose/several/"
CURL = "/api/compose/curl/"


def _with_starter(client, port: int, mode: str, name: str) -> dict:
    sandbox = running_sandbox(client, port, mode=mode, name=name)
    assert client.post(sandbox["links"]["starter"], {},
                       content_type="application/json").status_code == 201
    return sandbox


def _several(client, ids: list, request: bytes, **extra):
    body = {"sandboxes": ids, "request_b64": base64.b64encode(request).decode(), **extra}
    return client.post(SEVERAL, body, content_type="application/json")


def test_one_request_to_two_sandboxes_and_the_wrong_type_marked(client, free_ports):
    full_port, bare_port = free_ports(2)
    full = _with_starter(client, full_port, "full", "full")
    bare = _with_starter(client, bare_port, "no-content-type", "bare")
    response = _several(client, [full["id"], bare["id"]],
                        b"GET /index.css HTTP/1.1\nHost: localhost\nConnection: close\n\n")
    assert response.status_code == 200, response.content
    first, second = response.json()["answers"]
    assert [first["sandbox"]["name"], second["sandbox"]["name"]] == ["full", "bare"]
    mine = base64.b64decode(second["response_b64"])
    theirs = base64.b64decode(first["response_b64"])
    assert theirs.startswith(b"HTTP/1.1 200 OK\r\n") and mine.startswith(b"HTTP/1.1 200 OK\r\n")
    assert "diff" not in first  # the first is what the others are compared with
    diff = second["diff"]
    assert not diff["same"] and not diff["same_apart_from_expected"]
    # no-content-type mode labels every file text/html: the one range that matters.
    (wrong,) = [r for r in diff["ranges"] if not r["expected"]]
    assert wrong["op"] == "differs"
    assert mine[slice(*wrong["response"])] == b"html"
    assert theirs[slice(*wrong["reference"])] == b"css; charset=utf-8"
    # Date, and the files' times (written a moment apart), may differ: marked as
    # expected, never as the learner's mistake.
    assert {r["field"] for r in diff["ranges"] if r["expected"]} <= {
        "date", "last-modified", "etag"}


def test_a_stopped_sandbox_answers_with_why_and_no_diff(client, free_ports):
    on_port, off_port = free_ports(2)
    on = _with_starter(client, on_port, "full", "on")
    off = _with_starter(client, off_port, "full", "off")
    assert client.post(off["links"]["stop"]).status_code == 200
    response = _several(client, [on["id"], off["id"]], b"GET / HTTP/1.0\n\n")
    first, second = response.json()["answers"]
    assert base64.b64decode(first["response_b64"]).startswith(b"HTTP/1.1 200 OK")
    assert "start it first" in second["error"] and second["diff"] is None


@pytest.mark.parametrize(("ids", "status", "words"), [
    ("1,2", 400, "must be a list of sandbox ids"),
    ([1], 400, "pick between 2 and 8"),
    ([1, 1], 400, "pick between 2 and 8"),
    (list(range(1, 11)), 400, "pick between 2 and 8"),
    ([True, 2], 400, "must be a list"),
])
def test_bad_target_lists_get_400(client, ids, status, words):
    response = _several(client, ids, b"GET / HTTP/1.0\n\n")
    assert response.status_code == status
    assert words in response.json()["error"]


def test_only_your_own_sandboxes(client, free_port):
    mine = _with_starter(client, free_port, "full", "mine")
    response = _several(Client(), [mine["id"], mine["id"] + 1000], b"GET / HTTP/1.0\n\n")
    assert response.status_code == 404


def test_curl_command_as_bytes_and_refusals_in_japanese(client):
    response = client.post(CURL, {"command": "curl -d a=b http://localhost:8001/f"},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert base64.b64decode(data["request_b64"]) == (
        b"POST /f HTTP/1.1\r\nHost: localhost:8001\r\nUser-Agent: curl/"
        + curl.CURL_VERSION.encode()
        + b"\r\nAccept: */*\r\nContent-Length: 3\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\na=b")
    assert data["ignored"] == [] and data["user_agent"] == f"curl/{curl.CURL_VERSION}"
    for body, words in (({"command": 5}, "command must be a string"),
                        ({"command": "curl -F a=b http://h/"}, "-F is not supported")):
        response = client.post(CURL, body, content_type="application/json")
        assert response.status_code == 400 and words in response.json()["error"]
    response = client.post(CURL, {"command": "curl -F a=b http://h/"},
                           content_type="application/json", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 400
    assert "-F" in response.json()["error"] and "not supported" not in response.json()["error"]
    assert client.get(CURL).status_code == 405
