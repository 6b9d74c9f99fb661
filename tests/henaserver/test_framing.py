"""HTTP/1.1 message framing against the real server: persistence, pipelining, request
bodies, 100-continue, and head+body in a single write."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rawhttp import RawConnection, get
from support import INDEX_CSS, INDEX_HTML, REPO, ServerProcess, png


def test_http11_connection_persists(server: ServerProcess) -> None:
    with server.raw() as conn:
        for _ in range(3):
            response = conn.request(get("/index.css"))
            assert response.status == 200 and response.body == INDEX_CSS
            assert (response.header("Connection") or "").lower() != "close"
        assert conn.unsolicited() == b""


def test_http11_responses_say_http11(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.css", version="HTTP/1.0"))
    assert response.version == "HTTP/1.1"
    assert response.head.startswith(b"HTTP/1.1 200 OK\r\n")


def test_http10_closes_after_the_response(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(b"GET /index.css HTTP/1.0\r\n\r\n")
        response = conn.read_response()
        assert response.status == 200 and response.body == INDEX_CSS
        assert conn.closed_by_server() == b""


def test_http10_keep_alive_persists(server: ServerProcess) -> None:
    with server.raw() as conn:
        request = b"GET /index.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        first = conn.request(request)
        # RFC 9112 section 9.3: an HTTP/1.0 client only keeps the connection if the
        # server says so.
        assert (first.header("Connection") or "").lower() == "keep-alive"
        second = conn.request(request)
    assert first.body == second.body == INDEX_CSS


def test_connection_close_is_honoured(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/index.css", extra="Connection: close\r\n"))
        response = conn.read_response()
        assert response.body == INDEX_CSS
        assert (response.header("Connection") or "").lower() == "close"
        assert conn.closed_by_server() == b""


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    paths = ["/index.html", "/index.css", "/logo.png", "/missing", "/index.css"]
    with server.raw() as conn:
        conn.send(b"".join(get(path) for path in paths))
        responses = [conn.read_response() for _ in paths]
    assert [r.status for r in responses] == [200, 200, 200, 404, 200]
    assert responses[0].body == INDEX_HTML
    assert responses[1].body == INDEX_CSS
    assert responses[2].body == png(16, 16)
    assert responses[4].body == INDEX_CSS


def test_many_pipelined_requests_in_one_send(server: ServerProcess) -> None:
    count = 200
    with server.raw(timeout=20) as conn:
        conn.send(b"".join(get(f"/index.css?n={n}") for n in range(count))
                  + get("/index.html", extra="Connection: close\r\n"))
        responses = [conn.read_response() for _ in range(count + 1)]
        assert conn.closed_by_server() == b""
    assert all(r.status == 200 and r.body == INDEX_CSS for r in responses[:count])
    assert responses[-1].body == INDEX_HTML


def test_pipelined_head_and_conditional(server: ServerProcess) -> None:
    with server.raw() as conn:
        etag = conn.request(get("/index.css")).header("ETag")
        conn.send(get("/index.css", method="HEAD")
                  + get("/index.css", extra=f"If-None-Match: {etag}\r\n")
                  + get("/index.html"))
        head = conn.read_response("HEAD")
        not_modified = conn.read_response()
        last = conn.read_response()
    assert (head.status, head.body) == (200, b"")
    assert (not_modified.status, not_modified.body) == (304, b"")
    assert last.body == INDEX_HTML


def test_request_sent_byte_by_byte(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in get("/index.css", extra="X-Slow: yes\r\n"):
            conn.send(bytes([byte]))
        response = conn.read_response()
    assert response.body == INDEX_CSS


def test_bare_lf_request(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(b"GET /index.css HTTP/1.1\nHost: x\n\n")
    assert response.status == 200 and response.body == INDEX_CSS


def test_leading_empty_lines_are_skipped(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(b"\r\n\r\n" + get("/index.css"))
    assert response.status == 200 and response.body == INDEX_CSS


def test_http12_is_served_as_http11(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.css", version="HTTP/1.2"))
        again = conn.request(get("/index.css"))
    assert response.status == 200 and response.version == "HTTP/1.1"
    assert again.status == 200


# --- request bodies -------------------------------------------------------------------

def test_content_length_body_is_read_and_not_parsed_as_a_request(server: ServerProcess) -> None:
    body = get("/logo.png")  # a request hidden in a body must not be answered
    with server.raw() as conn:
        conn.send(get("/index.css", extra=f"Content-Length: {len(body)}\r\n")[:-2]
                  + b"\r\n" + body + get("/index.html"))
        first = conn.read_response()
        second = conn.read_response()
        assert conn.unsolicited() == b""
    assert first.body == INDEX_CSS
    assert second.body == INDEX_HTML


def test_chunked_body_is_read(server: ServerProcess) -> None:
    chunked = b"5\r\nhello\r\n1a;ext=1\r\n" + b"GET /logo.png HTTP/1.1\r\n\r\n" + b"\r\n0\r\n\r\n"
    with server.raw() as conn:
        conn.send(get("/index.css", extra="Transfer-Encoding: chunked\r\n") + chunked
                  + get("/index.html"))
        first = conn.read_response()
        second = conn.read_response()
        assert conn.unsolicited() == b""
    assert first.body == INDEX_CSS
    assert second.body == INDEX_HTML


def test_chunked_body_with_trailers(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/index.css", extra="Transfer-Encoding: chunked\r\n")
                  + b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" + get("/index.html"))
        assert conn.read_response().body == INDEX_CSS
        assert conn.read_response().body == INDEX_HTML


def test_body_arriving_slowly(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.send(get("/index.css", extra="Content-Length: 6\r\n"))
        for byte in b"abcdef":
            conn.send(bytes([byte]))
        assert conn.read_response().body == INDEX_CSS
        assert conn.request(get("/index.html")).body == INDEX_HTML


def test_405_reads_the_body_and_keeps_the_connection(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(b"POST /index.css HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                  + get("/index.css"))
        refused = conn.read_response()
        after = conn.read_response()
    assert refused.status == 405
    assert refused.header("Allow") == "GET, HEAD, OPTIONS"
    assert after.status == 200 and after.body == INDEX_CSS


# --- Expect: 100-continue (RFC 9110 section 10.1.1) -----------------------------------

def test_expect_100_continue(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/index.css", extra="Expect: 100-continue\r\nContent-Length: 4\r\n"))
        interim = conn.read_until(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.send(b"data")
        final = conn.read_response()
        assert final.status == 200 and final.body == INDEX_CSS
        assert conn.request(get("/index.html")).body == INDEX_HTML


def test_expect_100_continue_without_body_gets_no_interim(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.css", extra="Expect: 100-continue\r\n"))
    assert response.status == 200 and response.body == INDEX_CSS


def test_expect_100_continue_from_http10_gets_no_interim(server: ServerProcess) -> None:
    # RFC 9110 section 15.2: no 1xx to an HTTP/1.0 client.
    with server.raw() as conn:
        conn.send(b"GET /index.css HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
                  b"\r\ndata")
        response = conn.read_response()
    assert response.status == 200 and response.body == INDEX_CSS


def test_expect_100_continue_when_body_already_sent(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/index.css", extra="Expect: 100-continue\r\nContent-Length: 4\r\n")
                  + b"data" + get("/index.html"))
        first = conn.read_response()
        if first.status == 100:
            first = conn.read_response()
        second = conn.read_response()
    assert first.body == INDEX_CSS
    assert second.body == INDEX_HTML


# --- one write per small response (no Nagle stall) ------------------------------------

SOCKET_WRITES = ("send", "sendto", "sendmsg", "writev", "sendfile")


def strace_calls(log: str) -> list[str]:
    """One line per system call from ``strace -f`` output.

    When another thread makes a call while one is blocked, strace splits the first:
    ``12 sendto(5, ... <unfinished ...>`` and later ``12 <... sendto resumed>) = 300``.
    Each pair is joined back into one line (by thread id), or its result is missed.
    """
    calls: list[str] = []
    unfinished: dict[str, str] = {}
    for entry in log.splitlines():
        pid, _, rest = entry.partition(" ")
        if rest.endswith("<unfinished ...>"):
            unfinished[pid] = rest.removesuffix("<unfinished ...>").rstrip()
        elif rest.startswith("<... ") and " resumed>" in rest:
            start = unfinished.pop(pid, rest[len("<... "):rest.index(" resumed>")] + "(")
            calls.append(f"{pid} {start}{rest.split(' resumed>', 1)[1]}")
        else:
            calls.append(entry)
    return calls


def socket_write_sizes(log: str) -> list[int]:
    """The byte counts of the socket writes in an strace log (plain write() is the event
    file)."""
    sizes = []
    for call in strace_calls(log):
        if "= " in call and any(f" {name}(" in call for name in SOCKET_WRITES):
            result = call.rsplit("= ", 1)[1].split()[0]
            if result.isdigit():
                sizes.append(int(result))
    return sizes


def test_strace_split_calls_are_joined() -> None:
    log = ("101 sendto(7, \"\"..., 300, 0, NULL, 0 <unfinished ...>\n"
           "102 write(5, \"\"..., 50) = 50\n"
           "101 <... sendto resumed>) = 300\n"
           "101 sendto(7, \"\"..., 120, 0, NULL, 0) = 120\n")
    assert socket_write_sizes(log) == [300, 120]
    assert strace_calls(log)[1] == "101 sendto(7, \"\"..., 300, 0, NULL, 0) = 300"


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to see writes")
def test_small_response_is_written_in_one_send(docroot: Path, tmp_path: Path) -> None:
    # With head and body in separate writes, Nagle's algorithm and delayed ACKs stall
    # each keep-alive response by ~40 ms (NOTES.md). strace shows the writes themselves.
    log = tmp_path / "strace.log"
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-e", "trace=write,sendto,sendmsg,writev,sendfile",
             "-s", "0", "-o", str(log), sys.executable, "-u", "-m", "henaserver",
             "--root", str(docroot), "--port", "0", "--quiet", "--events-fd", str(write_end)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, pass_fds=(write_end,))
    finally:
        os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as events:
            # The first event says the server listens, on which port, and its own pid
            # (strace's child).
            listening = json.loads(events.readline() or b"null")
            assert listening and listening["type"] == "server.listening", (
                proc.stderr.read() if proc.stderr else "")
            with RawConnection(listening["host"], listening["port"]) as conn:
                responses = [conn.request(get("/index.css")) for _ in range(3)]
            assert all(response.body == INDEX_CSS for response in responses)
            os.kill(listening["pid"], signal.SIGTERM)  # strace exits with its tracee
            proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    sends = socket_write_sizes(log.read_text())
    for response in responses:
        assert len(response.raw) in sends, (
            f"no single send of the whole {len(response.raw)}-byte response; "
            f"socket writes were {sends}")
    assert sends.count(len(responses[0].raw)) == 3


def test_concurrent_clients(server: ServerProcess) -> None:
    import concurrent.futures

    def client(n: int) -> list[bytes]:
        with server.raw(timeout=20) as conn:
            return [conn.request(get(f"/index.css?client={n}&i={i}")).body for i in range(5)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(client, range(30)))
    assert all(bodies == [INDEX_CSS] * 5 for bodies in results)


def test_absolute_form_without_path_serves_the_index(server: ServerProcess) -> None:
    with server.raw() as conn:
        response = conn.request(b"GET http://example.test HTTP/1.1\r\nHost: example.test\r\n\r\n")
    assert response.status == 200 and response.body == INDEX_HTML
