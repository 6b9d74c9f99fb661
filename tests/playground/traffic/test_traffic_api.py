"""The traffic page and its HTTP API, with a real sandbox answering real bytes."""

import pytest
from testkit.waiting import wait_until

from playground.traffic.ingest import ingestor

pytestmark = pytest.mark.django_db(transaction=True)

ODD_REQUEST = b"GET /caf%C3%A9?q=1 HTTP/1.1\r\nhOsT: x\r\nX-Note: \xe3\x81\x82\r\n\r\n"


def _running(client, port: int) -> dict:
    sandbox = client.post("/api/sandboxes/", {"name": "t", "port": port},
                          content_type="application/json").json()
    assert client.post(sandbox["links"]["start"]).status_code == 200
    return sandbox


def _listing(client, url: str, count: int) -> dict:
    """The exchange list once ``count`` exchanges are in (henaserver's event writer and
    our ingest batch each take a few milliseconds after the answer)."""
    def listed():
        assert ingestor().sync()
        data = client.get(url).json()
        return data if len(data["exchanges"]) >= count else None

    return wait_until(listed, 10, f"{count} exchanges in {url}")


def test_raw_bytes_are_exactly_what_crossed_the_wire(client, free_port, raw_send):
    sandbox = _running(client, free_port)
    answer = raw_send(free_port, ODD_REQUEST)
    listing = _listing(client, sandbox["links"]["exchanges"] + "?after=0", 1)
    (item,) = listing["exchanges"]
    assert (item["method"], item["target"], item["status"]) == ("GET", "/caf%C3%A9?q=1", 404)
    assert listing["more"] is False and listing["next_after"] == item["seq"]
    base = sandbox["links"]["exchanges"] + f"{item['seq']}/"
    request = client.get(base + "request.raw")
    assert request["Content-Type"] == "application/octet-stream"
    assert request["X-Content-Type-Options"] == "nosniff"
    assert request.content == ODD_REQUEST
    assert request["X-Full-Length"] == str(len(ODD_REQUEST))
    assert client.get(base + "response.raw").content == answer


def test_paging_after_a_seq(client, free_port, raw_send):
    sandbox = _running(client, free_port)
    for _ in range(3):
        raw_send(free_port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    url = sandbox["links"]["exchanges"]
    _listing(client, url, 3)
    first = client.get(url + "?after=0&limit=2").json()
    assert [i["seq"] for i in first["exchanges"]] == [1, 2] and first["more"] is True
    rest = client.get(url + f"?after={first['next_after']}").json()
    assert [i["seq"] for i in rest["exchanges"]] == [3]
    assert client.get(url + "?after=x").status_code == 400


def test_other_sessions_and_missing_exchanges_get_404(client, other_client, free_port, raw_send):
    sandbox = _running(client, free_port)
    raw_send(free_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    url = sandbox["links"]["exchanges"]
    _listing(client, url, 1)
    assert other_client.get(url).status_code == 404
    assert other_client.get(url + "1/request.raw").status_code == 404
    missing = client.get(url + "99/response.raw")
    assert missing.status_code == 404 and "evicted" in missing.json()["error"]
    assert client.get(url + "1/other.raw").status_code == 404


def test_the_traffic_page_is_linked_and_owned(client, other_client, free_port):
    sandbox = _running(client, free_port)
    page = client.get(sandbox["links"]["traffic"])
    assert page.status_code == 200
    assert f'data-socket-path="/ws/sandboxes/{sandbox["id"]}/"'.encode() in page.content
    assert b"traffic.js" in page.content
    assert other_client.get(sandbox["links"]["traffic"]).status_code == 404
