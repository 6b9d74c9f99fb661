"""``GET …/exchanges/<seq>/<part>.body`` on real recorded exchanges (a real henaserver
with response rules): the body view of each part, only for the sandbox's owner."""

import base64
import gzip

import pytest
from testkit.recorded import stored

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "<h1>caf\u00e9</h1>".encode()
GZIPPED = gzip.compress(PAGE)
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
          b"Content-Length: %d\r\n\r\n" % len(GZIPPED)) + GZIPPED


@pytest.fixture
def recorded(client, free_port, raw_send):
    sandbox = client.post("/api/sandboxes/", {"name": "bodies", "port": free_port},
                          content_type="application/json").json()
    rules = [{"method": "*", "path": "/page", "response_b64": base64.b64encode(ANSWER).decode()}]
    assert client.put(sandbox["links"]["rules"], {"rules": rules},
                      content_type="application/json").status_code == 200
    assert client.post(sandbox["links"]["start"]).status_code == 200
    raw_send(free_port, b"POST /page HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                        b"Content-Type: text/plain; charset=utf-8\r\n\r\na\xffb!")
    items = stored(client, sandbox)
    return sandbox, sandbox["links"]["exchanges"] + f"{items[0]['seq']}/"


def test_both_parts_of_a_recorded_exchange(client, recorded):
    _, base = recorded
    response = client.get(base + "response.body").json()
    assert [(s["name"], s["outcome"]) for s in response["steps"]] == [("gzip", "done")]
    assert response["kind"] == "html" and response["text"] == [{"text": PAGE.decode()}]
    assert response["truncated"] is False
    request = client.get(base + "request.body").json()
    assert request["text"] == [{"text": "a"}, {"bytes": "ff"}, {"text": "b!"}]


def test_only_the_owner_and_only_stored_exchanges(client, other_client, recorded):
    sandbox, base = recorded
    assert other_client.get(base + "response.body").status_code == 404
    missing = client.get(sandbox["links"]["exchanges"] + "999/response.body")
    assert missing.status_code == 404 and "error" in missing.json()
    assert client.get(base + "head.body").status_code == 404
