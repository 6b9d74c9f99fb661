"""Which stored exchanges pass a filter's header and body tokens (traffic/search.py:
GET …/exchanges/matching/), and the exports filtered by them, on real recorded bytes
from a real sandbox (issue 16, point 8)."""

import json
from urllib.parse import quote

import pytest
from testkit import recorded

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stored(client, free_port, raw_send):
    """A sandbox with three exchanges: GET /, GET /logo.png, a POST with a text body."""
    sandbox = client.post("/api/sandboxes/", {"name": "s", "port": free_port},
                          content_type="application/json").json()
    starter = client.post(sandbox["links"]["starter"], {}, content_type="application/json")
    assert starter.status_code == 201  # the starter site
    assert client.post(sandbox["links"]["start"]).status_code == 200
    host = f"127.0.0.1:{free_port}"
    for data in (f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Lesson: three\r\n\r\n".encode(),
                 f"GET /logo.png HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
                 f"POST /form HTTP/1.1\r\nHost: {host}\r\nContent-Length: 11\r\n\r\n"
                 "name=Hanako".encode()):
        raw_send(free_port, data)
    return sandbox, {i["target"]: i["seq"] for i in recorded.stored(client, sandbox, 3)}


def _matching(client, sandbox, text, after=None):
    url = sandbox["links"]["exchanges"] + "matching/?filter=" + quote(text)
    if after is not None:
        url += f"&after={after}"
    return client.get(url)


def test_headers_and_bodies_answer_with_seqs(client, stored):
    sandbox, seq = stored
    png = _matching(client, sandbox, "h:content-type=image/png").json()
    assert png["seqs"] == [seq["/logo.png"]]
    assert png["last_seq"] == max(seq.values())
    # A request header, any case; a header that is there at all.
    assert _matching(client, sandbox, "h:X-LESSON=Three").json()["seqs"] == [seq["/"]]
    assert _matching(client, sandbox, "h:x-lesson").json()["seqs"] == [seq["/"]]
    # A request body, then a response body (the starter page's own words).
    assert _matching(client, sandbox, "body:hanako").json()["seqs"] == [seq["/form"]]
    assert seq["/"] in _matching(client, sandbox, "body:<html").json()["seqs"]
    # Only what is newer than `after`: how the page keeps up with new rows.
    newer = _matching(client, sandbox, "h:content-type=image/png", after=seq["/logo.png"])
    assert newer.json()["seqs"] == []


def test_a_filter_that_cannot_be_used_is_a_400_that_says_why(client, stored):
    sandbox, _ = stored
    answer = _matching(client, sandbox, "re:(")
    assert answer.status_code == 400
    assert "not a regular expression" in answer.json()["error"]
    assert _matching(client, sandbox, "body:x", after="-1").status_code == 400
    assert _matching(client, sandbox, "body:x", after="%C2%B2").status_code == 400  # "²"
    har = client.get(sandbox["links"]["exchanges"] + "export.har?filter=" + quote("re:(?P<n>x)"))
    assert har.status_code == 400 and "groups" in har.json()["error"]


def test_a_pattern_that_takes_too_long_is_a_400_that_says_why(client, stored, raw_send):
    sandbox, _ = stored
    raw_send(sandbox["port"], b"GET /" + b"a" * 40 + b"! HTTP/1.1\r\nHost: x\r\n\r\n")
    recorded.stored(client, sandbox, 4)
    answer = client.get(sandbox["links"]["exchanges"] + "export.har?run=all&filter="
                        + quote("re:(a|aa)+$"))
    assert answer.status_code == 400
    assert "takes too long" in answer.json()["error"]


def test_other_sessions_get_404(other_client, stored):
    sandbox, _ = stored
    assert _matching(other_client, sandbox, "body:x").status_code == 404


def test_exports_filter_on_headers_bodies_regexes_and_negation(client, stored):
    sandbox, seq = stored
    url = sandbox["links"]["exchanges"] + "export.har?run=all&filter="

    def targets(text):
        entries = json.loads(client.get(url + quote(text)).content)["log"]["entries"]
        return [e["request"]["url"].split("/", 3)[3] for e in entries]

    assert targets("h:content-type=image/png") == ["logo.png"]
    assert targets("-h:content-type=image/png method:GET") == [""]
    assert targets("body:hanako") == ["form"]
    assert targets("re:^/(form|logo)") == ["logo.png", "form"]
    assert targets("-status:200") == ["form"]  # the starter site has no /form: 404
