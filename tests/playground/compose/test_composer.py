"""The raw request composer against real sandboxes: only your own running one, the
exact bytes on the wire, slow pieces, pipelining, and the exchange in the history."""

import base64

import pytest
from testkit import recorded

from playground.compose import composer
from playground.compose.presets import request_templates
from playground.files import starter
from playground.files.storage import root_of
from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


def _running(client, port: int, name: str = "c") -> dict:
    sandbox = client.post("/api/sandboxes/", {"name": name, "port": port},
                          content_type="application/json").json()
    _write_starter(sandbox["id"])
    assert client.post(sandbox["links"]["start"]).status_code == 200
    return sandbox


def _write_starter(sandbox_id: int) -> None:
    """The starter site's files, straight into the document root (the files API is
    tested elsewhere)."""
    root = root_of(Sandbox.objects.get(pk=sandbox_id))
    for name in starter.FILES:
        (root / name).write_bytes((starter.STARTER_DIR / name).read_bytes())


def _compose(client, sandbox, data: bytes, **extra):
    body = {"request_b64": base64.b64encode(data).decode(), **extra}
    return client.post(sandbox["links"]["compose"], body, content_type="application/json")


def _raw(client, sandbox, seq: int, part: str = "request") -> bytes:
    return client.get(sandbox["links"]["exchanges"] + f"{seq}/{part}.raw").content


def test_crlf_conversion_and_exact_bytes():
    assert composer.to_crlf(b"GET / HTTP/1.1\nHost: x\r\n\n") == \
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert composer.to_crlf(b"A\nB\n\nbody\nline", head_only=True) == \
        b"A\r\nB\r\n\r\nbody\nline"
    assert composer.line_endings(b"a\nb", "exact") == b"a\nb"
    with pytest.raises(composer.ComposeError):
        composer.line_endings(b"a", "lf")
    assert composer.split_pieces(b"abcdefg", 3) == [b"abc", b"de", b"fg"]


def test_compose_sends_to_the_own_sandbox_and_the_exchange_is_stored(client, free_port):
    sandbox = _running(client, free_port)
    typed = f"GET /index.html HTTP/1.1\nHost: 127.0.0.1:{free_port}\nX-Typed: yes\n\n"
    response = _compose(client, sandbox, typed.encode(), line_endings="crlf")
    assert response.status_code == 200, response.content
    result = response.json()
    sent = typed.replace("\n", "\r\n").encode()
    assert base64.b64decode(result["request_b64"]) == sent
    answer = base64.b64decode(result["response_b64"])
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Welcome to HenaServer!" in answer
    assert result["response_length"] == len(answer)
    assert result["target"] == f"127.0.0.1:{free_port}"
    timings = result["timings"]
    assert timings["connect"] is not None and timings["first_byte"] is not None
    assert timings["connect"] <= timings["first_byte"] <= timings["last_byte"]
    # A keep-alive server leaves the connection open: the composer stops when idle.
    assert result["ended"] == "idle" and result["closed_by_server"] is False
    # henaserver recorded it like any browser request: it is in the traffic history.
    (item,) = recorded.stored(client, sandbox, 1)
    assert (item["method"], item["target"], item["status"]) == ("GET", "/index.html", 200)
    assert _raw(client, sandbox, item["seq"]) == sent


def test_exact_line_endings_send_bare_lf(client, free_port):
    sandbox = _running(client, free_port)
    typed = b"GET / HTTP/1.0\n\n"
    result = _compose(client, sandbox, typed, line_endings="exact").json()
    assert base64.b64decode(result["request_b64"]) == typed
    (item,) = recorded.stored(client, sandbox, 1)
    assert _raw(client, sandbox, item["seq"]) == typed
    assert result["closed_by_server"] is True  # HTTP/1.0: the server closes


def test_malformed_and_missing_host_get_400_and_oversized_431(client, free_port, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # the tests' 2 KB is for uploads
    sandbox = _running(client, free_port)
    templates = {t["id"]: t for t in request_templates(f"127.0.0.1:{free_port}")}
    for key, status in (("malformed", b"400"), ("no-host", b"400"), ("oversized", b"431")):
        response = _compose(client, sandbox, templates[key]["text"].encode())
        answer = base64.b64decode(response.json()["response_b64"])
        assert answer.startswith(b"HTTP/1.1 " + status), (key, answer[:80])
    items = recorded.stored(client, sandbox, 3)
    assert [i["status"] for i in items] == [400, 400, 431]
    assert items[0]["outcome"] == "rejected"


def test_pipelined_requests_get_two_responses_on_one_connection(client, free_port):
    sandbox = _running(client, free_port)
    template = next(t for t in request_templates(f"127.0.0.1:{free_port}")
                    if t["id"] == "pipelined")
    result = _compose(client, sandbox, template["text"].encode()).json()
    answer = base64.b64decode(result["response_b64"])
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert answer.index(b"text/html") < answer.index(b"text/css")  # in order
    assert result["closed_by_server"] is True  # the second said Connection: close
    first, second = recorded.stored(client, sandbox, 2)
    assert first["conn"] == second["conn"] and (first["index"], second["index"]) == (0, 1)


def test_slow_pieces_arrive_as_pieces(client, free_port):
    sandbox = _running(client, free_port)
    data = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{free_port}\r\nConnection: close\r\n\r\n"
    result = _compose(client, sandbox, data.encode(), pieces=4, delay_ms=250).json()
    assert result["pieces"] == [len(p) for p in composer.split_pieces(data.encode(), 4)]
    (item,) = recorded.stored(client, sandbox, 1)
    times = item["times"]
    # The server's own clock: its first byte came at least three pauses before the end
    # of the head (a send in one piece takes microseconds here).
    assert times["head_complete"] - times["first_byte"] >= 3 * 250_000 * 0.9


def test_bounds_are_enforced(client, free_port, settings):
    sandbox = _running(client, free_port)
    assert _compose(client, sandbox, b"GET / HTTP/1.1\r\n\r\n", pieces=21).status_code == 400
    too_slow = _compose(client, sandbox, b"GET / HTTP/1.1\r\n\r\n", pieces=3, delay_ms=2600)
    assert too_slow.status_code == 400 and "5 s" in too_slow.json()["error"]
    assert _compose(client, sandbox, b"").status_code == 400
    bad = client.post(sandbox["links"]["compose"], {"request_b64": "%%%"},
                      content_type="application/json")
    assert bad.status_code == 400
    assert client.get(sandbox["links"]["compose"]).status_code == 405
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
    huge = _compose(client, sandbox, b"x" * (composer.MAX_REQUEST_BYTES + 1))
    assert huge.status_code == 400 and "at most" in huge.json()["error"]


def test_only_your_own_running_sandbox(client, other_client, free_port):
    sandbox = _running(client, free_port)
    request = base64.b64encode(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").decode()
    # Another session: 404, exactly as if the sandbox did not exist.
    other = other_client.post(sandbox["links"]["compose"], {"request_b64": request},
                              content_type="application/json")
    assert other.status_code == 404
    # No way to aim elsewhere: extra keys are ignored, the sandbox's port is used.
    result = client.post(sandbox["links"]["compose"],
                         {"request_b64": request, "host": "example.com", "port": 1},
                         content_type="application/json").json()
    assert result["target"] == f"127.0.0.1:{free_port}"
    # Stopped: 409 with a sentence.
    client.post(sandbox["links"]["stop"])
    stopped = client.post(sandbox["links"]["compose"], {"request_b64": request},
                          content_type="application/json")
    assert stopped.status_code == 409 and "start it first" in stopped.json()["error"]
    assert client.post("/api/sandboxes/999/compose/", {"request_b64": request},
                       content_type="application/json").status_code == 404


async def test_composer_reports_a_refused_connection(free_port):
    result = await composer.send("127.0.0.1", free_port, b"GET / HTTP/1.1\r\n\r\n")
    assert result.ended == "refused" and "could not connect" in result.error
