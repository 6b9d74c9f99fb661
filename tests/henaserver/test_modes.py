"""The tutorial's serving modes and the response rules, against a real server process."""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from rawhttp import get
from support import INDEX_CSS

# Apache's reply as recorded in the tutorial (client_recv.txt), headers and all.
IT_WORKS = (b"HTTP/1.1 200 OK\r\nDate: Wed, 28 Oct 2020 07:57:45 GMT\r\n"
            b"Server: Apache/2.4.41 (Unix)\r\nContent-Length: 45\r\n"
            b"Content-Type: text/html\r\n\r\n<html><body><h1>It works!</h1></body></html>\n")


def test_full_mode_labels_css_as_css(docroot: Path, start_server) -> None:
    server = start_server(docroot)
    response, body = server.fetch("/index.css")
    assert response.getheader("Content-Type") == "text/css; charset=utf-8"
    assert body == INDEX_CSS


def test_no_content_type_mode_labels_everything_text_html(docroot: Path, start_server) -> None:
    server = start_server(docroot, "--mode", "no-content-type")
    for path in ("/index.css", "/logo.png", "/"):
        response, _ = server.fetch(path)
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/html", path
    assert server.events()[0]["mode"] == "no-content-type"


def test_fixed_mode_sends_the_bytes_verbatim_to_every_request(
        docroot: Path, start_server, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.http"
    fixed.write_bytes(IT_WORKS)
    server = start_server(docroot, "--mode", "fixed", "--fixed-response", str(fixed))
    with server.raw() as conn:
        # The reply frames itself with a correct Content-Length, so keep-alive works.
        conn.send(get("/") + get("/anything/at/all"))
        assert conn.read_exact(len(IT_WORKS)) == IT_WORKS
        assert conn.read_exact(len(IT_WORKS)) == IT_WORKS
    exchange = server.wait_for(lambda e: e["type"] == "exchange", "an exchange")[0]
    assert exchange["status"] == 200 and exchange["response_length"] == len(IT_WORKS)


def test_fixed_reply_without_content_length_is_followed_by_close(
        docroot: Path, start_server, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.http"
    fixed.write_bytes(b"HTTP/1.1 200 OK\r\n\r\nHello")
    server = start_server(docroot, "--mode", "fixed", "--fixed-response", str(fixed))
    with server.raw() as conn:
        conn.send(get("/"))
        # Without a length only the close can end the body: the server must close.
        assert conn.read_to_eof() == b"HTTP/1.1 200 OK\r\n\r\nHello"


def test_fixed_response_file_edits_apply_without_restart(
        docroot: Path, start_server, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.http"
    fixed.write_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none")
    server = start_server(docroot, "--mode", "fixed", "--fixed-response", str(fixed))
    assert server.fetch("/")[1] == b"one"
    replace(fixed, b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\ntwo")
    response, body = server.fetch("/")
    assert (response.status, body) == (201, b"two")


def test_record_only_mode_records_and_answers_nothing(docroot: Path, start_server) -> None:
    server = start_server(docroot, "--mode", "record-only")
    request = get("/index.html", extra="X-Learner: hello\r\n")
    with server.raw() as conn:
        conn.send(request)
        assert conn.read_to_eof() == b""
        client = conn.address
    exchange = server.exchanges(client)[0]
    assert exchange["outcome"] == "no_response" and exchange["status"] is None
    assert exchange["request_b64"] and exchange["response_length"] == 0
    assert base64.b64decode(exchange["request_b64"]) == request


def test_once_mode_answers_one_request_then_exits(docroot: Path, start_server) -> None:
    server = start_server(docroot, "--mode", "once")
    with server.raw() as conn:
        response = conn.request(get("/"))
        assert response.status == 200
        assert response.header("Connection") == "close"
    assert server.proc.wait(10) == 0
    server.returncode = 0
    assert "stopped (one request served)" in server.stdout.text
    # Nobody listens any more: the page's CSS and images would fail like this.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2).close()


def test_fixed_mode_without_a_file_is_one_clear_line(docroot: Path) -> None:
    from support import assert_one_line_failure, run
    assert_one_line_failure(run("--root", str(docroot), "--mode", "fixed"), "--fixed-response")


RULES = {"rules": [
    {"method": "GET", "path": "/test",
     "response": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello"},
    {"path": "*", "response": "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNot Found"},
]}


def test_rules_answer_before_the_files(docroot: Path, start_server, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    server = start_server(docroot, "--rules", str(rules))
    assert server.fetch("/test")[1] == b"Hello"
    response, body = server.fetch("/index.css")  # a real file, but the catch-all wins
    assert (response.status, body) == (404, b"Not Found")
    response, body = server.fetch("/test", method="HEAD")  # method must match
    assert response.status == 404


def test_rules_edits_apply_without_restart(docroot: Path, start_server, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [RULES["rules"][0]]}))
    server = start_server(docroot, "--rules", str(rules))
    assert server.fetch("/index.css")[1] == INDEX_CSS  # no rule: the static file
    replace(rules, json.dumps(RULES).encode())
    assert server.fetch("/index.css")[0].status == 404


def test_a_broken_rules_file_keeps_the_last_good_rules(
        docroot: Path, start_server, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    server = start_server(docroot, "--rules", str(rules))
    assert server.fetch("/test")[1] == b"Hello"
    replace(rules, b"{not json")
    assert server.fetch("/test")[1] == b"Hello"
    # The warning reaches us through a pipe read by another thread: wait for it.
    server.stderr.wait_for_text("ignored")
    assert "rules file" in server.stderr.text and "ignored" in server.stderr.text


def replace(path: Path, data: bytes) -> None:
    """Write a new version with a different mtime, the way an editor saves (atomically)."""
    before = path.stat().st_mtime_ns
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    after = path.stat()
    if after.st_mtime_ns == before:  # a coarse clock: make the change visible, no waiting
        os.utime(path, ns=(after.st_atime_ns, before + 1_000_000_000))


def test_once_mode_under_a_supervisor_exits_cleanly(docroot: Path, start_server) -> None:
    # The playground runs sandboxes with --exit-on-stdin-eof; a stdin reader thread
    # once made Python abort at exit (SIGABRT) when the server stopped on its own.
    server = start_server(docroot, "--mode", "once", "--exit-on-stdin-eof",
                          stdin=subprocess.PIPE)
    assert server.fetch("/")[0].status == 200
    assert server.proc.wait(10) == 0
    server.returncode = 0
    server.stderr.join(5)
    assert "Fatal Python error" not in server.stderr.text


class OpenWatch:
    """Linux inotify, through ctypes: tells whether anything opened a watched file."""

    IN_OPEN = 0x20

    def __init__(self, *paths: Path) -> None:
        libc_name = ctypes.util.find_library("c")
        self.libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
        if self.libc is None or not hasattr(self.libc, "inotify_init1"):
            pytest.skip("needs Linux inotify")
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            pytest.skip("inotify is not available here")
        for path in paths:
            if self.libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN) < 0:
                pytest.skip(f"cannot watch {path}")

    def opened(self) -> bool:
        """True if a watched file was opened since the last call."""
        try:
            return bool(os.read(self.fd, 4096))
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


@pytest.mark.parametrize("name,size", [("small.html", 100), ("big.bin", 1024 * 1024)])
def test_record_only_mode_never_opens_the_file_it_does_not_send(
        start_server, tmp_path: Path, name: str, size: int) -> None:
    # The handler is not even run: a file that is never sent is never read (a small one
    # would be read into the cache, a big one opened for sendfile).
    root = tmp_path / "root"
    root.mkdir()
    path = root / name
    path.write_bytes(b"x" * size)
    server = start_server(root, "--mode", "record-only")
    watch = OpenWatch(path)
    try:
        with server.raw() as conn:
            conn.send(get(f"/{name}"))
            assert conn.read_to_eof() == b""
            client = conn.address
        assert server.exchanges(client)[0]["outcome"] == "no_response"
        assert not watch.opened(), f"the record-only server opened {name}"
        path.open("rb").close()  # and the watch does see an open: the check can fail
        assert watch.opened()
    finally:
        watch.close()
