"""Sandbox modes and response rules through the API, with real henaserver processes:
the options each mode passes, how each behaves on the wire, rules without a restart."""

import base64
import json
import re
import socket
from pathlib import Path

import pytest
from testkit.waiting import wait_until

from playground.compose import presets
from playground.files import starter
from playground.files.storage import root_of
from playground.models import Sandbox
from playground.sandboxes import modes
from playground.traffic.ingest import ingestor

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parents[3] / "docs" / "modes.md"


def _create(client, port: int, **body) -> dict:
    response = client.post("/api/sandboxes/", {"name": "m", "port": port, **body},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    sandbox = response.json()
    root = root_of(Sandbox.objects.get(pk=sandbox["id"]))
    for name in starter.FILES:
        (root / name).write_bytes((starter.STARTER_DIR / name).read_bytes())
    return sandbox


def _start(client, sandbox) -> dict:
    response = client.post(sandbox["links"]["start"])
    assert response.status_code == 200, response.content
    return response.json()


def _get(port: int, path: str = "/", method: str = "GET") -> bytes:
    """One request, then read until the server closes or 2 s of silence."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     .encode())
        sock.settimeout(2)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    return data


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_each_mode_passes_its_henaserver_options(client, free_port):
    sandbox = _create(client, free_port, mode="fixed")
    running = _start(client, sandbox)
    args = _cmdline(running["pid"])
    assert _option(args, "--mode") == "fixed"
    fixed, rules = Path(_option(args, "--fixed-response")), Path(_option(args, "--rules"))
    # Both beside the document root, never inside it: nothing of them can be served.
    root = root_of(Sandbox.objects.get(pk=sandbox["id"])).resolve()
    for path in (fixed, rules):
        assert root not in path.resolve().parents
    assert fixed.read_bytes() == modes.to_bytes(presets.IT_WORKS)
    assert json.loads(rules.read_text()) == {"rules": []}
    for mode in ("full", "no-content-type", "once", "record-only"):
        changed = client.put(sandbox["links"]["mode"], {"mode": mode},
                             content_type="application/json").json()
        assert changed["restarted"] is True and changed["mode"] == mode
        args = _cmdline(changed["sandbox"]["pid"])
        assert _option(args, "--mode") == mode and "--fixed-response" not in args
        assert _option(args, "--rules") == str(rules)
    bad = client.put(sandbox["links"]["mode"], {"mode": "turbo"},
                     content_type="application/json")
    assert bad.status_code == 400 and bad.json()["field"] == "mode"


def test_record_only_replies_nothing_but_records(client, free_port):
    sandbox = _create(client, free_port, mode="record-only")
    _start(client, sandbox)
    assert _get(free_port) == b""
    def recorded():
        assert ingestor().sync()
        return client.get(sandbox["links"]["exchanges"]).json()["exchanges"]

    items = wait_until(recorded, 10, "the exchange to be recorded", interval=0.05)
    assert items[0]["outcome"] == "no_response" and items[0]["status"] is None


def test_fixed_response_is_sent_verbatim_with_the_it_works_preset(client, free_port):
    sandbox = _create(client, free_port, mode="fixed")
    _start(client, sandbox)
    it_works = _get(free_port, "/any/path")
    assert it_works == modes.to_bytes(presets.IT_WORKS)
    assert b"Content-Length: 45\r\n" in it_works
    assert it_works.endswith(b"\r\n\r\n<html><body><h1>It works!</h1></body></html>\n")
    # Own bytes, exact (no CRLF conversion asked): served as written, to every path.
    own = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"
    changed = client.put(sandbox["links"]["mode"], {
        "mode": "fixed", "fixed_response_b64": base64.b64encode(own).decode()},
        content_type="application/json").json()
    assert base64.b64decode(changed["fixed_response_b64"]) == own
    assert _get(free_port, "/x") == own
    hello = client.put(sandbox["links"]["mode"], {
        "mode": "fixed", "fixed_response": presets.HELLO_WORLD, "line_endings": "crlf"},
        content_type="application/json").json()
    answer = _get(free_port)
    assert answer == base64.b64decode(hello["fixed_response_b64"])
    head, _, body = answer.partition(b"\r\n\r\n")
    assert int(re.search(rb"Content-Length: (\d+)", head)[1]) == len(body)


def test_once_answers_one_request_then_the_sandbox_is_stopped_not_crashed(client, free_port):
    sandbox = _create(client, free_port, mode="once")
    _start(client, sandbox)
    assert _get(free_port, "/index.html").startswith(b"HTTP/1.1 200 OK")
    def ended():
        state = client.get(sandbox["links"]["self"]).json()
        return state if state["status"] != "running" else None

    state = wait_until(ended, 10, "the sandbox to stop running", interval=0.05)
    assert state["status"] == "stopped"
    assert "one request" in state["message"] and state["exit_code"] is None
    with pytest.raises(ConnectionRefusedError):
        _get(free_port, "/index.css")  # the CSS request finds nobody listening
    assert _start(client, sandbox)["status"] == "running"  # and it starts again


def test_no_content_type_sends_css_as_html(client, free_port):
    sandbox = _create(client, free_port, mode="no-content-type")
    _start(client, sandbox)
    assert b"\r\nContent-Type: text/html" in _get(free_port, "/index.css")
    client.put(sandbox["links"]["mode"], {"mode": "full"}, content_type="application/json")
    assert b"\r\nContent-Type: text/css" in _get(free_port, "/index.css")


def test_rules_apply_without_restart(client, free_port):
    sandbox = _create(client, free_port)
    running = _start(client, sandbox)
    assert _get(free_port, "/test").startswith(b"HTTP/1.1 404")
    preset = presets.RULE_PRESETS["test-hello"]["rules"]
    saved = client.put(sandbox["links"]["rules"], {"rules": preset, "line_endings": "crlf"},
                       content_type="application/json")
    assert saved.status_code == 200 and saved.json()["rules"][0]["path"] == "/test"
    # The very next request gets the rule's answer, from the same process.
    assert _get(free_port, "/test").endswith(b"\r\n\r\nHello")
    assert _get(free_port, "/index.html").startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert client.get(sandbox["links"]["self"]).json()["pid"] == running["pid"]
    # Change again, same size: still picked up at once; HEAD /test falls through.
    other = [{"method": "GET", "path": "/test", "response": presets.HELLO.replace(
        "Hello", "Howdy")}]
    client.put(sandbox["links"]["rules"], {"rules": other}, content_type="application/json")
    assert _get(free_port, "/test").endswith(b"Howdy")
    assert _get(free_port, "/index.html").startswith(b"HTTP/1.1 200 OK")
    client.put(sandbox["links"]["rules"], {"rules": []}, content_type="application/json")
    assert _get(free_port, "/test").startswith(b"HTTP/1.1 404")


def test_bad_rules_are_refused_with_a_reason(client, free_port):
    sandbox = _create(client, free_port)
    url = sandbox["links"]["rules"]
    for rules, words in (([{"path": "test", "response": "x"}], "start with /"),
                         ([{"method": "G T", "path": "/", "response": "x"}], "method"),
                         ([{"path": "/"}], "no response"), ("x", "rules")):
        response = client.put(url, {"rules": rules}, content_type="application/json")
        assert response.status_code == 400 and words in response.json()["error"]
    assert client.get(url).json()["rules"] == []


def test_other_sessions_get_404(client, other_client, free_port):
    sandbox = _create(client, free_port)
    assert other_client.get(sandbox["links"]["mode"]).status_code == 404
    assert other_client.put(sandbox["links"]["rules"], {"rules": []},
                            content_type="application/json").status_code == 404


def test_docs_explain_every_mode_with_the_page_text():
    text = " ".join(DOCS.read_text().split())
    for label, notice in modes.MODE_INFO.values():
        assert label in text and notice in text
