"""Hostile requests against the real server: what can never be a request is refused at
once, and no request, however built, holds up the others (issue 12, items 1 and 7).

The server under test has a 30 s header timeout, and each client here waits at most
10 s for an answer: an answer that comes only when the head timed out (the old way to
end such a connection) cannot pass for one that came at once.
"""

from __future__ import annotations

import base64
import socket
import ssl
from pathlib import Path

import pytest
from rawhttp import RawConnection, get
from support import INDEX_CSS, ServerProcess

HEADER_TIMEOUT = "30"
CLIENT_WAIT = 10.0  # seconds a client here waits for any answer: a third of the above


@pytest.fixture
def patient(start_server, docroot: Path) -> ServerProcess:
    """A server that would wait 30 s for a head before answering 408."""
    return start_server(docroot, "--header-timeout", HEADER_TIMEOUT)


def client_hello() -> bytes:
    """The first bytes a real TLS client sends: what ``https://`` to this port sends."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


# Each is all a client sends: never a complete head, so only the bytes themselves can
# tell the server that no request will come of them.
NEVER_A_REQUEST = {
    "tls client hello": client_hello(),
    "nul": b"\x00",
    "binary (a png header)": bytes.fromhex("89504e470d0a1a0a0000000d49484452"),
    "bare cr in the request line": b"GET /index.css\rHTTP/1.1",
    "http/0.9 request line": b"GET /index.css\r\n",
    "control byte in the method": b"GE\x01T / HTTP/1.1\r\n",
    "tab between method and target": b"GET\t/index.css HTTP/1.1\r\nHost: x\r\n",
}


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@pytest.mark.parametrize("data", NEVER_A_REQUEST.values(), ids=NEVER_A_REQUEST.keys())
def test_what_can_never_be_a_request_gets_400_at_once(patient: ServerProcess,
                                                      data: bytes) -> None:
    with RawConnection(patient.host, patient.port, timeout=CLIENT_WAIT) as conn:
        conn.send(data)
        response = conn.read_response()  # TimeoutError if the server waits for more
        assert response.status == 400, response.raw[:300]
        assert (response.header("Connection") or "").lower() == "close"
        assert conn.closed_by_server(CLIENT_WAIT) == b""
        address = conn.address
    event = patient.exchanges(address)[0]
    assert event["status"] == 400 and event["outcome"] == "rejected"
    # The capture keeps exactly what the client sent, as for any other request.
    assert b64(event["request_b64"]) == data
    assert b64(event["response_b64"]) == response.raw


def test_https_client_on_the_http_port_fails_at_once(patient: ServerProcess) -> None:
    # A real TLS client, as a browser sending https:// to this port: the handshake fails
    # on the server's plain-text 400 instead of hanging until the head times out.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((patient.host, patient.port), timeout=CLIENT_WAIT) as sock:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(sock, server_hostname="localhost")
    event = patient.wait_for(lambda e: e["type"] == "exchange", "the refused handshake",
                             timeout=CLIENT_WAIT)[0]
    assert event["status"] == 400 and "TLS" in event["reason"]
    assert b64(event["request_b64"]).startswith(b"\x16\x03")


# --- hostile heads do not hold up the server --------------------------------------------

HEAD_LIMIT = 32 * 1024  # the default head limit: each hostile head comes just under it
CHUNKED = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"


def just_under_the_limit(start: bytes, fill: bytes, end: bytes) -> bytes:
    count = (HEAD_LIMIT - 200 - len(start) - len(end)) // len(fill)
    return start + fill * count + end


# Optional whitespace before a value, then a control byte: the field line that made the
# old pattern backtrack through every split of the whitespace (about 3 s each here).
HOSTILE = [
    just_under_the_limit(b"GET / HTTP/1.1\r\nHost: x\r\nX:", b" ", b"\x01\r\n\r\n"),
    just_under_the_limit(b"GET / HTTP/1.1\r\nHost: x\r\nX:", b"\t", b"\x7f\r\n\r\n"),
    just_under_the_limit(b"GET / HTTP/1.1\r\nHost: x\r\nX:", b" \t", b"\x00\r\n\r\n"),
    just_under_the_limit(CHUNKED + b"X:", b" ", b"\x01\r\n\r\n"),
    just_under_the_limit(CHUNKED + b"X:", b"\t", b"\x1f\r\n\r\n"),
] * 2


def test_hostile_heads_do_not_hold_up_a_normal_client(patient: ServerProcess) -> None:
    hostile = [RawConnection(patient.host, patient.port, timeout=CLIENT_WAIT)
               for _ in HOSTILE]
    try:
        for conn, data in zip(hostile, HOSTILE, strict=True):
            conn.send(data)
        # Sent after all of them: a server that spent seconds on each would keep this
        # client waiting far beyond CLIENT_WAIT.
        with RawConnection(patient.host, patient.port, timeout=CLIENT_WAIT) as normal:
            response = normal.request(get("/index.css"))
            assert response.status == 200 and response.body == INDEX_CSS
        for conn in hostile:
            refused = conn.read_response()
            assert refused.status == 400, refused.raw[:300]
            assert b"control character" in refused.body
            assert conn.closed_by_server(CLIENT_WAIT) == b""
    finally:
        for conn in hostile:
            conn.close()
