"""Hostile names and bodies, exactly refused (issue 12, item 12), through a real daphne.

Each case gets a 4xx with the API's ``{"error": ...}`` in the request's language, writes
nothing (the sandbox's folder is compared byte for byte before and after), and logs no
500. Before: a file with a non-UTF-8 name was silently dropped from a multipart upload
(the others were written: not all or nothing); ``PUT %ff%fe.txt`` was stored as
``\\ufffd\\ufffd.txt``; a zip member name with a NUL was stored cut at the NUL; JSON
nested 100,000 deep, or a lone surrogate in a name, was a 500.
"""

from __future__ import annotations

import http.client
import io
import json
import uuid
import zipfile

import pytest
from testkit import ports
from testkit.playgrounds import Browser, Daphne, migrate, playground_env
from testkit.uploads import snapshot

JAPANESE = {"ja": "。", "en": ""}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    env = playground_env(tmp, PLAYGROUND_PORT_RANGE="1024-65535")
    migrate(env)
    daphne = Daphne("hostile", env, tmp, ports.free_port())
    daphne.tmp = tmp
    yield daphne
    daphne.close()


@pytest.fixture(scope="module")
def browser(site):
    return Browser()


@pytest.fixture(scope="module")
def sandbox(site, browser):
    created = browser.new_sandbox(site, "hostile", ports.free_port())
    status, _ = send(site, browser, "PUT", f"/api/sandboxes/{created['id']}/files/kept.txt",
                     b"kept", "text/plain")
    assert status == 201
    return created["id"]


def send(site: Daphne, browser: Browser, method: str, path: str, body: bytes,
         content_type: str, language: str = "en") -> tuple[int, dict]:
    """One request with exactly these bytes (``path`` is sent as is, not quoted)."""
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)),
                   "X-CSRFToken": browser.cookie("csrftoken"), "Accept-Language": language,
                   "Cookie": "; ".join(f"{c.name}={c.value}" for c in browser.jar)}
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        raw = response.read()
        assert response.getheader("Content-Type") == "application/json", raw[:300]
        return response.status, json.loads(raw)
    finally:
        connection.close()


def multipart(parts: list[tuple[str, bytes, bytes]]) -> tuple[bytes, str]:
    """(field, raw file name bytes, content): the name is sent byte for byte."""
    boundary = uuid.uuid4().hex.encode()
    body = b""
    for field, name, data in parts:
        body += (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\""
                 + field.encode() + b"\"; filename=\"" + name
                 + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    body += b"--" + boundary + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary.decode()


@pytest.fixture(scope="module")
def running(site, browser, sandbox):
    """The sandbox, started (the composer needs a running server)."""
    status, answer = send(site, browser, "POST", f"/api/sandboxes/{sandbox}/start/", b"",
                          "application/json")
    assert status == 200, answer
    return sandbox


@pytest.fixture
def refused(site, browser, sandbox):
    """refused(method, path, body, content_type, status, words): sent in English and in
    Japanese, each answered ``status`` with ``words`` in the English message and a
    Japanese one, nothing written, no 500 in the log."""
    root = site.tmp / "data" / "sandboxes" / str(sandbox)

    def check(method: str, path: str, body: bytes, content_type: str, status: int,
              words: str) -> None:
        before = snapshot(root)
        log_before = len(site.output())
        for language in ("en", "ja"):
            got, answer = send(site, browser, method, path, body, content_type, language)
            assert got == status, (language, answer)
            message = answer["error"]
            if language == "en":
                assert words in message, message
            else:
                assert any(ord(c) > 0x3000 for c in message), message  # Japanese
        assert snapshot(root) == before
        assert sorted(p.name for p in root.iterdir()) == sorted(before)  # no temp file
        log = site.output()[log_before:]
        assert "Traceback" not in log and "API error" not in log and " 500 " not in log, log
    return check


def files_url(sandbox: int) -> str:
    return f"/api/sandboxes/{sandbox}/files/"


def test_a_non_utf8_file_name_refuses_the_whole_upload(refused, sandbox):
    body, content_type = multipart([("files", b"good.txt", b"good"),
                                    ("files", b"bad\xff\xfe.txt", b"bad")])
    refused("POST", files_url(sandbox), body, content_type, 400, "UTF-8")


def test_a_put_to_a_broken_utf8_path_is_refused(refused, sandbox):
    refused("PUT", files_url(sandbox) + "%ff%fe.txt", b"x", "text/plain", 400, "UTF-8")
    # A lone surrogate, encoded (CESU-style) as UTF-8 bytes: not UTF-8 either.
    refused("PUT", files_url(sandbox) + "a%ed%a0%80.txt", b"x", "text/plain", 400, "UTF-8")


def test_a_zip_member_name_with_nul_is_refused(refused, sandbox):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fine.txt", b"fine")
        archive.writestr("evil.txt_.png", b"evil")  # zipfile would cut the name at a NUL
    # The NUL put into the stored name (local header and central directory) by hand.
    crafted = buffer.getvalue().replace(b"evil.txt_.png", b"evil.txt\x00.png")
    assert zipfile.ZipFile(io.BytesIO(crafted)).namelist() == ["fine.txt", "evil.txt"]
    body, content_type = multipart([("archive", b"site.zip", crafted)])
    refused("POST", files_url(sandbox), body, content_type, 400, "NUL")


# Every endpoint that takes JSON (they all read it through errors.json_body).
JSON_ENDPOINTS = [("POST", ""), ("POST", "starter/"), ("PUT", "mode/"), ("PUT", "rules/"),
                  ("POST", "compose/")]


def json_url(sandbox: int, tail: str) -> str:
    return f"/api/sandboxes/{sandbox}/{tail}" if tail else "/api/sandboxes/"


@pytest.mark.parametrize(("method", "tail"), JSON_ENDPOINTS)
def test_json_nested_100000_deep_is_a_400(refused, running, method, tail):
    deep = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    refused(method, json_url(running, tail), deep, "application/json", 400, "nested")


@pytest.mark.parametrize(("method", "tail"), JSON_ENDPOINTS)
def test_a_lone_surrogate_in_json_is_a_400(refused, running, method, tail):
    body = (b'{"name": "a\\ud800b", "port": 8000, "overwrite": true, "mode": "\\udfff", '
            b'"rules": [{"path": "/\\udc00"}], "request_b64": "R0VUIC8="}')
    refused(method, json_url(running, tail), body, "application/json", 400, "surrogate")


# Before: a multipart body was a 500 (RawPostDataException): it is parsed as a form from
# the stream before the view, and the view's request.body could not be read after it.
# Every POST that takes JSON: the sandbox's, the composer's tools, "Check my server".
@pytest.mark.parametrize("tail", ["", "starter/", "compose/", "checks/", "/api/compose/curl/",
                                  "/api/compose/several/"])
def test_a_form_body_to_a_json_endpoint_is_a_400(refused, running, tail):
    url = tail if tail.startswith("/") else json_url(running, tail)
    body, content_type = multipart([("overwrite", b"x.txt", b"true")])
    refused("POST", url, body, content_type, 400, "JSON")
    refused("POST", url, b"overwrite=true", "application/x-www-form-urlencoded", 400, "JSON")
