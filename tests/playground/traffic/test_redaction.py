"""The playground's own cookies never appear in stored or shown traffic (redaction.py).

The first line of defence is the separate host name of "Open" links (cookies are not
isolated by port, NOTES.md); these tests cover the second, for cookies that arrive
anyway: a real sandbox, a real request carrying them, the stored and served bytes.
"""

import socket

import pytest
from testkit.waiting import wait_until

from playground.models import Exchange
from playground.traffic.ingest import ingestor
from playground.traffic.redaction import redact_cookies

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST = (b"GET /page HTTP/1.1\r\nHost: localhost\r\n"
           b"Cookie: sessionid=SECRET; csrftoken=SECRET2; other=x\r\n\r\n")


def test_the_sandbox_host_differs_from_the_playground_host(client, free_port):
    """Layer one: links open sandboxes on another host name, so no cookie is sent."""
    sandbox = client.post("/api/sandboxes/", {"name": "r", "port": free_port},
                          content_type="application/json", HTTP_HOST="localhost:8000").json()
    assert sandbox["url"] == f"http://127.0.0.1:{free_port}/"
    other = client.get("/api/sandboxes/", HTTP_HOST="127.0.0.1:8000").json()["sandboxes"]
    assert [s["url"] for s in other] == [f"http://localhost:{free_port}/"]


def test_stored_and_served_bytes_have_no_playground_cookies(client, free_port):
    sandbox = client.post("/api/sandboxes/", {"name": "r", "port": free_port},
                          content_type="application/json").json()
    assert client.post(sandbox["links"]["start"]).status_code == 200
    with socket.create_connection(("127.0.0.1", free_port)) as sock:
        sock.sendall(REQUEST)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        while sock.recv(65536):
            pass
    def stored():
        assert ingestor().sync()
        return Exchange.objects.filter(sandbox_id=sandbox["id"]).exists()

    wait_until(stored, 10, "the exchange to be stored")
    row = Exchange.objects.get(sandbox_id=sandbox["id"])
    stored = bytes(row.request_raw)
    assert b"SECRET" not in stored
    assert b"Cookie: sessionid=[redacted]; csrftoken=[redacted]; other=x\r\n" in stored
    assert row.request_length == len(REQUEST)  # what the server received, unchanged
    assert row.stored_bytes == len(stored) + len(bytes(row.response_raw))
    served = client.get(sandbox["links"]["exchanges"] + f"{row.seq}/request.raw")
    assert b"SECRET" not in served.content and b"other=x" in served.content
    assert served["X-Full-Length"] == str(len(REQUEST))
    listing = client.get(sandbox["links"]["exchanges"]).content
    assert b"SECRET" not in listing


@pytest.mark.parametrize("raw, expected", [
    (REQUEST, REQUEST.replace(b"=SECRET;", b"=[redacted];").replace(b"=SECRET2;",
                                                                   b"=[redacted];")),
    # Any case, no space after the colon, bare LF line ends, spaces kept.
    (b"GET / HTTP/1.1\ncOOKIE:csrftoken=abc ;a=b\n\n",
     b"GET / HTTP/1.1\ncOOKIE:csrftoken=[redacted] ;a=b\n\n"),
    # Two Cookie lines; a lookalike name is left alone.
    (b"GET / HTTP/1.1\r\nCookie: xsessionid=1\r\nCookie: sessionid=2\r\n\r\n",
     b"GET / HTTP/1.1\r\nCookie: xsessionid=1\r\nCookie: sessionid=[redacted]\r\n\r\n"),
    # The body is the learner's own data, and a request line is not a header.
    (b"POST /Cookie:sessionid=1 HTTP/1.1\r\nA: b\r\n\r\nCookie: sessionid=3",
     b"POST /Cookie:sessionid=1 HTTP/1.1\r\nA: b\r\n\r\nCookie: sessionid=3"),
    # A head cut off by the recording cap is still cleaned.
    (b"GET / HTTP/1.1\r\nCookie: sessionid=SECRET",
     b"GET / HTTP/1.1\r\nCookie: sessionid=[redacted]"),
    # Not cookies at all: the same object back.
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    (b"", b""),
])
def test_redact_cookies(raw, expected):
    assert redact_cookies(raw) == expected


def test_renamed_cookies_are_the_ones_redacted(settings):
    settings.SESSION_COOKIE_NAME = "pg_session"
    raw = b"GET / HTTP/1.1\r\nCookie: sessionid=keep; pg_session=gone\r\n\r\n"
    assert redact_cookies(raw) == raw.replace(b"=gone", b"=[redacted]")
