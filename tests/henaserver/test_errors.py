"""Every error status, against the real server: each is a complete response (status line,
headers, short HTML body), and the connection closes exactly when it must.

The invalid request corpus (requests/invalid) is replayed here byte for byte.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from pathlib import Path

import pytest
from corpus import INVALID, Case
from rawhttp import RawConnection, RawResponse, get
from support import BIG_SIZE, INDEX_CSS, INDEX_HTML, ServerProcess

ALLOW = "GET, HEAD, OPTIONS"


def assert_error_page(response: RawResponse, status: int) -> None:
    """A complete error response: the status, a length, and a short HTML body saying it."""
    assert response.status == status, response.raw[:300]
    assert response.version == "HTTP/1.1"
    assert response.header("Content-Length") == str(len(response.body))
    assert (response.header("Content-Type") or "").startswith("text/html")
    assert str(status).encode() in response.body
    assert 0 < len(response.body) < 4096
    if 200 <= status < 500:
        # RFC 9110 section 6.6.1: an origin server with a clock MUST send Date in 2xx-4xx.
        assert response.header("Date"), response.head


def assert_closes(conn: RawConnection, response: RawResponse) -> None:
    assert (response.header("Connection") or "").lower() == "close", response.head
    assert conn.closed_by_server() == b""


def assert_stays_open(conn: RawConnection) -> None:
    follow = conn.request(get("/index.css"))
    assert follow.status == 200 and follow.body == INDEX_CSS


@pytest.mark.parametrize("case", INVALID, ids=str)
def test_invalid_corpus_request_gets_its_error(server: ServerProcess, case: Case) -> None:
    with server.raw() as conn:
        conn.send(case.raw + get("/index.css"))
        response = conn.read_response()
        assert_error_page(response, case.expect["status"])
        if case.expect["close"]:
            assert_closes(conn, response)
        else:
            # The corpus promises the connection is kept: the request after the refused
            # one is answered, and the refused request's body was skipped, never parsed
            # as a request of its own.
            assert (response.header("Connection") or "").lower() != "close", response.head
            after = conn.read_response()
            assert after.status == 200 and after.body == INDEX_CSS, after.head
            assert conn.unsolicited() == b""


# --- methods (RFC 9110 section 9) -----------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_unsupported_method_on_static_file_is_405(server: ServerProcess, method: str) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.html", method=method))
        assert_error_page(response, 405)
        assert response.header("Allow") == ALLOW
        assert_stays_open(conn)


def test_connect_is_405(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443"
                                b"\r\n\r\n")
        assert_error_page(response, 405)
        assert response.header("Allow") == ALLOW


@pytest.mark.parametrize("target", ["/", "/index.css", "*"])
def test_options_is_204_with_allow(server: ServerProcess, target: str) -> None:
    with server.raw() as conn:
        response = conn.request(get(target, method="OPTIONS"))
        assert response.status == 204
        assert response.header("Allow") == ALLOW
        # RFC 9110 section 8.6: no Content-Length in a 204.
        assert response.header("Content-Length") is None
        assert_stays_open(conn)


@pytest.mark.parametrize("method", ["BREW", "get", "PROPFIND", "M-SEARCH"])
def test_unknown_method_is_501_and_keeps_the_connection(server: ServerProcess,
                                                         method: str) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.html", method=method))
        assert_error_page(response, 501)
        assert_stays_open(conn)


# --- sizes ----------------------------------------------------------------------------

def test_over_long_target_is_414(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(get("/" + "a" * 9000))
        assert_error_page(response, 414)
        assert_closes(conn, response)


def test_too_many_header_fields_is_431(server: ServerProcess) -> None:
    fields = "".join(f"X-Field-{n}: {n}\r\n" for n in range(150))
    with server.raw() as conn:
        response = conn.request(get("/index.html", extra=fields))
        assert_error_page(response, 431)
        assert_closes(conn, response)


def test_huge_header_field_is_431(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.html", extra="Cookie: " + "c" * 40_000 + "\r\n"))
        assert_error_page(response, 431)
        assert_closes(conn, response)


def test_huge_body_is_413_without_reading_it(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(b"POST /index.html HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Length: 10000000000\r\n\r\n")
        assert_error_page(response, 413)
        assert_closes(conn, response)


def test_chunked_body_over_the_limit_is_413(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/index.html", extra="Transfer-Encoding: chunked\r\n"))
        for _ in range(40):  # 40 x 64 KiB: well over the 1 MiB body limit
            try:
                conn.send(b"10000\r\n" + b"z" * 0x10000 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
        response = conn.read_response()
        assert_error_page(response, 413)


# --- versions and expectations --------------------------------------------------------

@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0"])
def test_unsupported_version_is_505(server: ServerProcess, version: str) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.html", version=version))
        assert_error_page(response, 505)
        assert_closes(conn, response)


@pytest.mark.parametrize("version", ["http/1.1", "HTTP/1", "HTTP/1.1.1"])
def test_malformed_version_is_400(server: ServerProcess, version: str) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.html", version=version))
        assert_error_page(response, 400)
        assert_closes(conn, response)


def test_unknown_expectation_without_body_is_417(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.html", extra="Expect: bogus\r\n"))
        assert_error_page(response, 417)


@pytest.mark.parametrize("framing,body", [
    ("", b""),
    ("Content-Length: 4\r\n", b"data"),
    ("Transfer-Encoding: chunked\r\n", b"4\r\ndata\r\n0\r\n\r\n"),
], ids=["no body", "content-length", "chunked"])
def test_connection_stays_open_after_417(server: ServerProcess, framing: str,
                                         body: bytes) -> None:
    # RFC 9110 section 10.1.1: an expectation the server cannot meet gets 417, but the
    # request is otherwise well framed, so its end is known and the connection stays
    # usable: the next request on the same socket is answered.
    with server.raw() as conn:
        conn.send(get("/index.html", method="PUT",
                      extra="Expect: something-unknown\r\n" + framing) + body)
        refused = conn.read_response()
        assert_error_page(refused, 417)
        assert (refused.header("Connection") or "").lower() != "close", refused.head
        assert_stays_open(conn)


def test_unknown_expectation_body_is_never_a_request(server: ServerProcess) -> None:
    hidden = get("/logo.png")
    with server.raw() as conn:
        conn.send(b"PUT /index.html HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n"
                  + f"Content-Length: {len(hidden)}\r\n\r\n".encode() + hidden)
        response = conn.read_response()
        assert_error_page(response, 417)
        rest = conn.unsolicited(1.0)
        assert b"image/png" not in rest and b"HTTP/1.1 200" not in rest, rest[:200]


@pytest.mark.parametrize("host_lines", ["", "Host: a\r\nHost: b\r\n", "Host: a b\r\n"])
def test_bad_host_is_400(server: ServerProcess, host_lines: str) -> None:
    with server.raw() as conn:
        response = conn.request(f"GET /index.html HTTP/1.1\r\n{host_lines}\r\n".encode())
        assert_error_page(response, 400)
        assert_closes(conn, response)


def test_absolute_form_target_is_served_by_path(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(b"GET http://other.example/index.html?q=1 HTTP/1.1\r\n"
                                b"Host: other.example\r\n\r\n")
    assert response.status == 200 and response.body == INDEX_HTML


# --- a failing request does not stop the server ---------------------------------------

def test_fifo_in_root_does_not_hang_the_server(start_server, tmp_path: Path) -> None:
    # Opening a FIFO for reading blocks until a writer appears; a server that opens
    # whatever the path names would hang on it. Only regular files are content.
    root = tmp_path / "fiforoot"
    root.mkdir()
    os.mkfifo(root / "pipe.txt")
    (root / "ok.txt").write_bytes(b"ok\n")
    server = start_server(root)
    with server.raw(timeout=5) as conn:
        response = conn.request(get("/pipe.txt"))
    assert response.status in (403, 404)
    with server.raw(timeout=5) as conn:
        assert conn.request(get("/ok.txt")).body == b"ok\n"


def test_client_reset_mid_response_is_routine(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/big.bin"))
        conn.read_until(b"\r\n\r\n")
        conn.read_exact(1000)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with server.raw() as conn:
        assert conn.request(get("/index.css")).body == INDEX_CSS
    # The server module's teardown also asserts that no traceback reached stderr.


# --- connection limit -----------------------------------------------------------------

def test_connection_limit_answers_503_then_recovers(start_server, docroot: Path) -> None:
    # Both slots are owed an answer (5 MiB each, unread), so neither may be closed to
    # make room (test_slow_clients.py): the newcomer is refused.
    server = start_server(docroot, "--max-connections", "2")
    first, second = server.raw(), server.raw()
    try:
        for conn in (first, second):
            conn.send(get("/big.bin"))
            assert conn.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200 ")
        with server.raw() as third:
            response = third.read_response()
            assert_error_page(response, 503)
            assert (response.header("Retry-After") or "").isdigit()
            assert_closes(third, response)
        first.close()
        server.connection_event("close", first.address)
        with server.raw() as fourth:
            assert fourth.request(get("/index.css")).body == INDEX_CSS
        assert len(second.read_exact(BIG_SIZE)) == BIG_SIZE
        assert second.request(get("/index.html")).body == INDEX_HTML
    finally:
        first.close()
        second.close()


# --- timeouts -------------------------------------------------------------------------

@pytest.fixture
def quick(start_server, docroot: Path) -> ServerProcess:
    return start_server(docroot, "--header-timeout", "1", "--idle-timeout", "1")


def test_slow_head_gets_408_and_close(quick: ServerProcess) -> None:
    with quick.raw() as conn:
        conn.send(b"GET /index.css HTTP/1.1\r\nHost: x\r\n")
        response = conn.read_response()
        assert_error_page(response, 408)
        assert_closes(conn, response)


def test_dripping_head_does_not_extend_the_header_timeout(quick: ServerProcess) -> None:
    # Slowloris: one byte at a time keeps a per-read timeout alive forever; the header
    # timeout covers the whole head.
    with quick.raw() as conn:
        conn.send(b"GET /index.css HTTP/1.1\r\nHost: x\r\nX-Drip: ")
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            readable, _, _ = select.select([conn.sock], [], [], 0.2)
            if readable:
                break
            conn.send(b"d")
        else:
            pytest.fail("the server kept waiting for a head dripped one byte per 0.2 s")
        response = conn.read_response()
        assert_error_page(response, 408)


def test_idle_keep_alive_connection_is_closed_silently(quick: ServerProcess) -> None:
    with quick.raw() as conn:
        assert conn.request(get("/index.css")).body == INDEX_CSS
        assert conn.closed_by_server(timeout=6) == b""


def test_connection_that_never_sends_is_closed(quick: ServerProcess) -> None:
    with quick.raw() as conn:
        data = conn.closed_by_server(timeout=6)
    assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:100]


def test_error_to_head_request_has_no_body(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(b"HEAD /index.html HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        response = conn.read_response("HEAD")
        assert response.status == 400
        assert conn.closed_by_server() == b"", "body bytes after the head of a HEAD response"


def test_417_to_head_request_has_no_body(server: ServerProcess) -> None:
    # 417 keeps the connection, so a body sent after a HEAD response would be read as
    # the start of the next response.
    with server.raw() as conn:
        conn.send(get("/index.html", method="HEAD", extra="Expect: bogus\r\n")
                  + get("/index.css"))
        refused = conn.read_response("HEAD")
        assert refused.status == 417
        rest = conn.unsolicited(1.0)
        assert rest == b"" or rest.startswith(b"HTTP/1.1 200 OK\r\n"), rest[:120]


@pytest.mark.parametrize("target,status", [
    ("/missing", 404), ("/sub", 301), ("/%zz", 400), ("/../secret.txt", 400),
    ("/sub%2findex.html", 400),
])
def test_head_responses_have_no_body(server: ServerProcess, target: str, status: int) -> None:
    # RFC 9110 section 9.3.2: no content in a response to HEAD, whatever the status;
    # a stray body would be read as the start of the next pipelined response.
    with server.raw() as conn:
        conn.send(get(target, method="HEAD") + get("/index.css"))
        response = conn.read_response("HEAD")
        assert response.status == status
        if (response.header("Connection") or "").lower() == "close":
            assert conn.closed_by_server() == b"", "body bytes after a HEAD response"
            return
        after = conn.read_response()
    assert after.status == 200 and after.body == INDEX_CSS, after.head[:100]


def test_expect_continue_to_a_missing_file(server: ServerProcess) -> None:
    # The server may answer 404 at once instead of 100 (RFC 9110 section 10.1.1), but
    # then a body the client sends anyway is still a body, not the next request.
    with server.raw() as conn:
        conn.send(get("/missing", extra="Expect: 100-continue\r\nContent-Length: 4\r\n"))
        first = conn.read_response()
        if first.status == 100:
            conn.send(b"data")
            assert conn.read_response().status == 404
            return
        assert first.status == 404
        if (first.header("Connection") or "").lower() == "close":
            assert conn.closed_by_server() == b""
            return
        conn.send(b"data" + get("/index.css"))
        after = conn.read_response()
        assert after.status == 200 and after.body == INDEX_CSS


def test_events_path_that_cannot_be_opened(docroot: Path, tmp_path: Path) -> None:
    from support import assert_one_line_failure, run

    result = run("--root", str(docroot), "--port", "0",
                 "--events", str(tmp_path / "no-such-dir" / "events.jsonl"))
    assert_one_line_failure(result)
