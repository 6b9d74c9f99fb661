"""Comparing two exchanges (issue 16, point 3): the pure cut-and-diff (compare.py) and
the API over real sandboxes answering real bytes (compare_api.py)."""

import base64

import pytest
from testkit import recorded
from testkit.checkruns import running_sandbox
from testkit.waiting import wait_until

from playground.traffic import compare

RESPONSE_A = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"
RESPONSE_B = (b"HTTP/1.1 200 OK\r\nContent-Type: text/css; charset=utf-8\r\n"
              b"Content-Length: 5\r\nX-Extra: 1\r\n\r\nhello")


def test_heads_and_bodies_are_compared_apart():
    """A longer head on one side shifts nothing in the body: the body is the same."""
    result = compare.compare(RESPONSE_A, RESPONSE_B, response=True)
    assert result["body"]["same"] is True and result["body"]["ranges"] == []
    head = result["head"]
    assert head["same"] is False and head["same_apart_from_expected"] is False
    a = base64.b64decode(head["a_b64"])
    b = base64.b64decode(head["b_b64"])
    assert a + b"hello" == RESPONSE_A and b + b"hello" == RESPONSE_B
    pieces = [(r["op"], a[r["a"][0]:r["a"][1]], b[r["b"][0]:r["b"][1]]) for r in head["ranges"]]
    assert ("differs", b"html", b"css; charset=utf-8") in pieces
    assert ("only_in_b", b"", b"X-Extra: 1\r\n") in pieces


def test_interim_heads_stay_with_the_head_and_nothing_is_lost():
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    head, body = compare.cut(raw, response=True)
    assert (head + body, body) == (raw, b"ok")
    assert compare.cut(b"GET / HTTP/1.1\r\nHost: x\r\n", response=False) == (
        b"GET / HTTP/1.1\r\nHost: x\r\n", b"")  # a head that never ended is all head


def test_only_the_date_differs():
    a = b"HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 10:00:00 GMT\r\n\r\n"
    b = b"HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 10:00:07 GMT\r\n\r\n"
    head = compare.compare(a, b, response=True)["head"]
    assert head["same"] is False and head["same_apart_from_expected"] is True
    assert [r["field"] for r in head["ranges"]] == ["date"]


def test_large_parts_are_cut_where_the_diff_stops():
    body = b"x" * (compare.SHOWN_BYTES + 10)
    part = compare.side_by_side(body, body + b"y")
    assert part["truncated"] is True and part["a_length"] == len(body)
    assert len(base64.b64decode(part["a_b64"])) == compare.SHOWN_BYTES


# ----- the API, with real sandboxes ------------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


@pytestmark_db
def test_two_sandboxes_compared_byte_for_byte(client, other_client, free_ports, raw_send):
    port_a, port_b = free_ports(2)
    one = running_sandbox(client, port_a, name="one")
    two = running_sandbox(client, port_b, name="two")
    raw_send(port_a, b"GET /a.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw_send(port_b, b"GET /b.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    a, b = recorded.stored(client, one)[-1], recorded.stored(client, two)[-1]
    url = f"/api/compare/?a={one['id']}:{a['seq']}&b={two['id']}:{b['seq']}"
    data = client.get(url).json()
    assert (data["a"]["name"], data["b"]["name"]) == ("one", "two")
    assert data["a"]["summary"]["target"] == "/a.css"
    assert data["a"]["traffic"].endswith(f"/traffic/?exchange={a['seq']}")
    request = data["request"]["head"]
    a_head = base64.b64decode(request["a_b64"])
    b_head = base64.b64decode(request["b_b64"])
    assert a_head.startswith(b"GET /a.css ") and b_head.startswith(b"GET /b.html ")
    (first,) = [r for r in request["ranges"] if r["op"] == "differs"]
    assert (a_head[slice(*first["a"])], b_head[slice(*first["b"])]) == (b"a.css", b"b.html")
    # Both are henaserver's 404 pages for different paths: the bodies differ too.
    assert data["response"]["body"]["same"] is False
    # Another session sees neither; nonsense is a 400 that says what is wanted.
    assert other_client.get(url).status_code == 404
    bad = client.get(f"/api/compare/?a={one['id']}&b=x")
    assert bad.status_code == 400 and "SANDBOX:SEQ" in bad.json()["error"]
    gone = client.get(f"/api/compare/?a={one['id']}:999&b={two['id']}:{b['seq']}")
    assert gone.status_code == 404 and "evicted" in gone.json()["error"]
    assert client.post(url).status_code == 405


@pytestmark_db
def test_the_page_lists_only_the_visitors_sandboxes(client, other_client, free_port):
    running_sandbox(client, free_port, name="mine")
    page = client.get("/compare/")
    assert page.status_code == 200 and b"exchange-diff.js" in page.content
    assert b">mine</option>" in page.content
    assert b">mine</option>" not in other_client.get("/compare/").content


@pytestmark_db
def test_two_runs_of_one_sandbox(client, free_port, raw_send):
    """Any runs: the exchange before a restart against the one after it."""
    sandbox = running_sandbox(client, free_port, name="runs")
    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw_send(free_port, request)
    before = recorded.stored(client, sandbox)[-1]
    assert client.post(sandbox["links"]["restart"]).status_code == 200
    raw_send(free_port, request)

    def after_restart():
        item = recorded.stored(client, sandbox)[-1]
        return item if item["seq"] != before["seq"] else None
    after = wait_until(after_restart, 10, "the exchange of run 2")
    data = client.get(f"/api/compare/?a={sandbox['id']}:{before['seq']}"
                      f"&b={sandbox['id']}:{after['seq']}").json()
    assert (data["a"]["summary"]["run"], data["b"]["summary"]["run"]) == (1, 2)
    assert data["request"]["head"]["same"] is True  # the same bytes sent twice
    response = data["response"]
    assert response["body"]["same"] is True
    assert response["head"]["same_apart_from_expected"] is True  # the Date at most
