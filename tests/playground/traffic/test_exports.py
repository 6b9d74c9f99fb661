"""Exports of real recorded exchanges: the tutorial's files, curl, HAR 1.2, raw dump, and
the traffic page's filter applied on the server."""

import base64
import datetime
import json
import shlex

import pytest
from testkit.waiting import wait_until

from playground.files import starter
from playground.files.storage import root_of
from playground.models import Sandbox
from playground.traffic import exports, filters
from playground.traffic.ingest import ingestor

pytestmark = pytest.mark.django_db(transaction=True)

BINARY = bytes(range(256)) * 2  # every byte value, not UTF-8
TEXT = "it's \u3042!"  # a quote for the shell, and UTF-8


@pytest.fixture
def recorded(client, free_port, raw_send):
    """A sandbox with four exchanges: GET /, GET /logo.png, a text POST, a binary PUT."""
    sandbox = client.post("/api/sandboxes/", {"name": "x", "port": free_port},
                          content_type="application/json").json()
    root = root_of(Sandbox.objects.get(pk=sandbox["id"]))
    for name in starter.FILES:
        (root / name).write_bytes((starter.STARTER_DIR / name).read_bytes())
    assert client.post(sandbox["links"]["start"]).status_code == 200
    host = f"127.0.0.1:{free_port}"
    sent = [
        f"GET /?q=1&r=two HTTP/1.1\r\nHost: {host}\r\nCookie: a=1; b=2\r\n\r\n".encode(),
        f"GET /logo.png HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),
        f"POST /form HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(TEXT.encode())}\r\n\r\n{TEXT}".encode(),
        f"PUT /up HTTP/1.1\r\nHost: other:1\r\nContent-Length: {len(BINARY)}\r\n\r\n"
        .encode() + BINARY,
    ]
    answers = [raw_send(free_port, data) for data in sent]
    def stored():
        assert ingestor().sync()
        items = client.get(sandbox["links"]["exchanges"]).json()["exchanges"]
        return items if len(items) >= 4 else None

    items = wait_until(stored, 10, "the four exchanges to be stored")
    assert len(items) == 4
    return sandbox, items, sent, answers


def test_tutorial_files_are_the_exact_bytes(client, recorded):
    sandbox, items, sent, answers = recorded
    base = sandbox["links"]["exchanges"] + f"{items[1]['seq']}/"
    recv = client.get(base + "server_recv.txt")
    assert recv["Content-Disposition"] == 'attachment; filename="server_recv.txt"'
    assert recv.content == sent[1]
    send = client.get(base + "server_send.txt")
    assert send["Content-Disposition"] == 'attachment; filename="server_send.txt"'
    assert send.content == answers[1] and send["X-Content-Type-Options"] == "nosniff"
    body = client.get(sandbox["links"]["exchanges"] + f"{items[3]['seq']}/body.bin")
    assert body.content == BINARY


def test_curl_for_text_and_binary_bodies(client, recorded):
    sandbox, items, _, _ = recorded
    url = sandbox["links"]["exchanges"] + "{}/export/curl"
    get = client.get(url.format(items[0]["seq"])).content.decode()
    assert get.startswith("curl --http1.1")
    assert "-H 'Cookie: a=1; b=2'" in get and "Host" not in get  # Host matches the URL
    assert get.rstrip().endswith(f"'http://127.0.0.1:{sandbox['port']}/?q=1&r=two'")
    post = client.get(url.format(items[2]["seq"])).content.decode()
    words = shlex.split(post.replace("\\\n", " "))
    assert words[words.index("--data-raw") + 1] == "it's \u3042!"  # quoted, exact
    assert "-X" not in words and "Content-Length:" not in post
    put = client.get(url.format(items[3]["seq"])).content.decode()
    words = shlex.split("\n".join(x for x in put.splitlines() if not x.startswith("#"))
                        .replace("\\\n", " "))
    assert words[words.index("--data-binary") + 1] == "@body.bin"
    assert words[words.index("-X") + 1] == "PUT"
    assert "Host: other:1" in words  # differs from the URL: kept
    assert f"{items[3]['seq']}/body.bin" in put.splitlines()[0]  # where body.bin comes from


def _check_har_shape(document: dict) -> None:
    log = document["log"]
    assert log["version"] == "1.2" and {"name", "version"} <= set(log["creator"])
    for entry in log["entries"]:
        datetime.datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00"))
        assert isinstance(entry["time"], (int, float)) and entry["time"] >= 0
        request, response = entry["request"], entry["response"]
        for key in ("method", "url", "httpVersion", "headers", "queryString", "cookies",
                    "headersSize", "bodySize"):
            assert key in request, key
        for key in ("status", "statusText", "httpVersion", "headers", "cookies", "content",
                    "redirectURL", "headersSize", "bodySize"):
            assert key in response, key
        assert {"size", "mimeType"} <= set(response["content"])
        assert entry["cache"] == {}
        for key in ("send", "wait", "receive"):
            value = entry["timings"][key]
            assert isinstance(value, (int, float)) and (value >= 0 or value == -1)
        for pair in request["headers"] + response["headers"] + request["queryString"]:
            assert set(pair) >= {"name", "value"}


def test_har_structure_and_binary_bodies_round_trip(client, recorded):
    sandbox, items, sent, answers = recorded
    response = client.get(sandbox["links"]["exchanges"] + "export.har")
    assert response["Content-Disposition"].startswith("attachment")
    document = json.loads(response.content)
    _check_har_shape(document)
    entries = document["log"]["entries"]
    assert len(entries) == 4
    first = entries[0]["request"]
    assert first["queryString"] == [{"name": "q", "value": "1"}, {"name": "r", "value": "two"}]
    assert first["cookies"] == [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
    assert first["headersSize"] == len(sent[0])
    logo = entries[1]["response"]["content"]
    assert logo["encoding"] == "base64" and logo["mimeType"] == "image/png"
    png = (starter.STARTER_DIR / "logo.png").read_bytes()
    assert base64.b64decode(logo["text"]) == png and logo["size"] == len(png)
    page = entries[0]["response"]["content"]
    assert "encoding" not in page and "Welcome to HenaServer!" in page["text"]
    assert page["text"].encode() == answers[0].partition(b"\r\n\r\n")[2]
    post = entries[2]["request"]["postData"]
    assert post["text"] == "it's \u3042!" and post["mimeType"] == "text/plain"
    put = entries[3]["request"]["postData"]
    assert put["encoding"] == "base64" and base64.b64decode(put["text"]) == BINARY
    assert entries[3]["request"]["bodySize"] == len(BINARY)


def test_the_filter_is_the_traffic_pages(client, recorded):
    sandbox, items, sent, _ = recorded
    url = sandbox["links"]["exchanges"] + "export.har?filter="
    only_png = json.loads(client.get(url + "method:GET%20.png").content)["log"]["entries"]
    assert [e["request"]["url"].rsplit("/", 1)[1] for e in only_png] == ["logo.png"]
    not_found = json.loads(client.get(url + "status:4xx").content)["log"]["entries"]
    assert {e["request"]["method"] for e in not_found} == {"POST", "PUT"}
    size = items[1]["response_length"] - 1  # just below the logo's response
    big = json.loads(client.get(url + f"larger-than:{size}").content)["log"]["entries"]
    assert len(big) == len([i for i in items if i["response_length"] > size]) >= 1
    assert "image/png" in [e["response"]["content"]["mimeType"] for e in big]
    dump = client.get(sandbox["links"]["exchanges"] + "export.raw?filter=method:PUT")
    assert dump["Content-Type"] == "application/octet-stream"
    header = f"=== #{items[3]['seq']} PUT /up request {len(sent[3])} bytes ===\n".encode()
    assert dump.content.startswith(header + sent[3] + b"\n=== ")


def test_filter_grammar_matches_the_page():
    item = {"method": "GET", "status": 404, "outcome": "complete", "response_length": 2048,
            "target": "/Index.CSS", "run": 3}
    for text, expected in (("", True), ("run:3", True), ("run:2,3", True), ("run:2", False),
                           ("method:get", True), ("method:POST,GET", True),
                           ("status:4xx", True), ("status:404", True), ("status:200", False),
                           ("status:rejected", False), ("larger-than:2k", False),
                           ("larger-than:1.5k", True), ("index .css", True),
                           ("METHOD:GET", False)):
        assert filters.matches(item, filters.parse(text)) is expected, text
    assert filters.parse("   ") is None


def test_exports_take_the_current_run_a_chosen_run_or_all(client, recorded, raw_send):
    sandbox, items, _, _ = recorded
    assert client.post(sandbox["links"]["restart"]).status_code == 200
    raw_send(sandbox["port"], f"GET /second-run HTTP/1.1\r\nHost: x:{sandbox['port']}"
                              "\r\n\r\n".encode())

    def stored():
        assert ingestor().sync()
        found = client.get(sandbox["links"]["exchanges"]).json()["exchanges"]
        return found if len(found) == 5 else None

    wait_until(stored, 10, "the second run's exchange to be stored")
    url = sandbox["links"]["exchanges"] + "export.har"

    def targets(query: str) -> list[str]:
        entries = json.loads(client.get(url + query).content)["log"]["entries"]
        return [e["request"]["url"].split("/", 3)[3] for e in entries]

    assert targets("") == ["second-run"]  # the current run by default
    assert targets("?run=1") == ["?q=1&r=two", "logo.png", "form", "up"]
    assert len(targets("?run=all")) == 5
    assert targets("?run=all&filter=run:1%20method:GET") == ["?q=1&r=two", "logo.png"]
    dump = client.get(sandbox["links"]["exchanges"] + "export.raw?run=2").content
    assert dump.count(b"=== #") == 2 and b"GET /second-run" in dump
    assert client.get(url + "?run=last").status_code == 400


def test_other_sessions_get_404(client, other_client, recorded):
    sandbox, items, _, _ = recorded
    base = sandbox["links"]["exchanges"]
    for path in ("export.har", "export.raw", f"{items[0]['seq']}/server_recv.txt",
                 f"{items[0]['seq']}/export/curl"):
        assert other_client.get(base + path).status_code == 404
    assert client.get(base + "999/server_send.txt").status_code == 404


def test_parse_is_lenient_and_dechunks():
    message = exports.parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                            response=True)
    assert message.interim == ["HTTP/1.1 100 Continue"] and message.start == "HTTP/1.1 200 OK"
    assert exports.dechunk(message.body) == b"abc"
    assert exports.parse(b"GET /half").head_size == -1
