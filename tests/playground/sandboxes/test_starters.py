"""The starter programs (playground/sandboxes/starters): the list, the two languages
kept in step, and each program run for real with the learner's Python (the system's,
as PLAYGROUND_PROGRAM_PYTHON says) on a real port, answering real sockets."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import tokenize
import unicodedata
from pathlib import Path

import pytest
from django.utils import translation
from testkit.ports import listens
from testkit.services import unavailable
from testkit.waiting import wait_until

from playground.sandboxes import starters

REPO = Path(__file__).resolve().parents[3]
PROGRAM_PYTHON = "/usr/bin/python3"
IDS = [s.id for s in starters.all()]
REQUEST = b"GET /index.css HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n"


def test_six_tutorial_starters_and_henaserver_in_order():
    assert IDS == ["save-request", "saved-response", "once", "loop", "static", "threads",
                   "henaserver"]
    assert [s.step for s in starters.all()] == sorted(s.step for s in starters.all())
    assert [s.id for s in starters.all() if s.with_henaserver] == ["henaserver"]
    assert starters.get("loop").title == "Loop: answer every request"
    for wrong in ("nope", "", "../loop", "en/loop", None, 4):
        assert starters.get(wrong) is None


def test_source_picks_the_language_and_falls_back_to_english():
    en, ja = starters.source("loop", "en"), starters.source("loop", "ja")
    assert en != ja
    assert starters.source("loop", "ja-jp") == ja == starters.source("loop", "JA")
    assert starters.source("loop", "fr") == en == starters.source("loop", None)
    with pytest.raises(KeyError):
        starters.source("../ja/loop", "en")


def _code(text: str) -> list[tuple[int, str]]:
    """The program's tokens without its comments (nor the line breaks they leave)."""
    skip = {tokenize.COMMENT, tokenize.NL}
    return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in skip]


def _comments(text: str) -> list[str]:
    return [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type == tokenize.COMMENT]


def _japanese(text: str) -> bool:
    return any(unicodedata.name(c, "").startswith(("CJK", "HIRAGANA", "KATAKANA"))
               for c in text)


@pytest.mark.parametrize("starter_id", IDS)
def test_both_languages_are_the_same_program(starter_id):
    en, ja = starters.source(starter_id, "en"), starters.source(starter_id, "ja")
    assert _code(en) == _code(ja), f"{starter_id}: the code differs, not only the comments"
    # The comments really are in the page's language, one for one.
    en_comments, ja_comments = _comments(en), _comments(ja)
    assert en_comments and all(c.isascii() for c in en_comments)
    assert _japanese("".join(ja_comments))
    compile(en, f"{starter_id}.py", "exec")


def test_a_difference_in_code_is_caught():
    en = starters.source("loop", "en")
    assert _code(en) != _code(en.replace('"HTTP/1.1 200 OK\\r\\n"', '"HTTP/1.1 200 OK\\n"'))
    assert _code(en) == _code(en.replace("# Wait for the next", "# Await the next"))


def test_files_of_a_starter_that_serves_files():
    assert [name for name, _ in starters.files("static")] == [
        "static/index.html", "static/index.css", "static/logo.png"]
    assert [name for name, _ in starters.files("henaserver")] == [
        "index.html", "index.css", "logo.png"]
    assert starters.files("loop") == [] and starters.files("nope") == []


def test_the_list_in_japanese(compiled_translations):
    with translation.override("ja"):
        data = starters.page_data()
    assert [d["id"] for d in data] == IDS
    assert all(_japanese(d["title"] + d["summary"]) for d in data
               if d["id"] != "henaserver") and _japanese(data[-1]["summary"])


# --- the programs, run for real ------------------------------------------------------

@pytest.fixture
def run_starter(tmp_path, free_port):
    """run_starter(id, language="en") -> (process, port, folder): the starter as the
    playground lays it out (main.py + its files) and runs it (argv and environment)."""
    if not os.access(PROGRAM_PYTHON, os.X_OK):
        unavailable("the system Python", f"{PROGRAM_PYTHON} is what programs run with")
    started: list[subprocess.Popen] = []

    def run(starter_id: str, language: str = "en"):
        folder = tmp_path / starter_id
        folder.mkdir()
        (folder / "main.py").write_text(starters.source(starter_id, language), "utf-8")
        for name, chunks in starters.files(starter_id):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"".join(chunks))
        env = {"PATH": "/usr/bin:/bin", "PORT": str(free_port), "HOST": "127.0.0.1",
               "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        if starters.get(starter_id).with_henaserver:
            env["PYTHONPATH"] = str(REPO)
        process = subprocess.Popen(
            [PROGRAM_PYTHON, "main.py", str(free_port), "127.0.0.1"], cwd=folder, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append(process)

        def listening():
            if process.poll() is not None:
                raise AssertionError(process.stdout.read().decode())
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", free_port)) == 0
        # The probe is a connection too: a one-shot starter would answer it and exit,
        # so for "once" wait on the port's LISTEN state instead.
        if starter_id == "once":
            wait_until(lambda: _listens(free_port, process), 10, "the port to listen")
        else:
            wait_until(listening, 10, f"{starter_id} to listen on {free_port}")
        return process, free_port, folder

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def _listens(port: int, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise AssertionError(process.stdout.read().decode())
    return listens(port)


def exchange(port: int, request: bytes = REQUEST) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split(response: bytes) -> tuple[list[bytes], bytes]:
    head, sep, body = response.partition(b"\r\n\r\n")
    assert sep, response
    lines = head.split(b"\r\n")
    assert all(b"\n" not in line for line in lines), "a bare LF in the head"
    return lines, body


@pytest.mark.parametrize("language", ["en", "ja"])
def test_save_request_saves_and_answers_nothing(run_starter, language):
    _, port, folder = run_starter("save-request", language)
    assert exchange(port) == b""
    saved = wait_until(lambda: (folder / "server_recv.txt").exists() and
                       (folder / "server_recv.txt").read_bytes(), 5, "server_recv.txt")
    assert saved == REQUEST
    assert exchange(port, b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n") == b""  # still serving


def test_saved_response_sends_the_file_byte_for_byte(run_starter):
    _, port, folder = run_starter("saved-response")
    first = exchange(port)
    assert first == (folder / "server_send.txt").read_bytes()
    lines, body = split(first)
    assert lines[0] == b"HTTP/1.1 200 OK" and b"Server: Apache/2.4.41 (Unix)" in lines
    assert body == b"<html><body><h1>It works!</h1></body></html>\n"
    assert len(body) == int(dict(line.split(b": ", 1) for line in lines[1:])[
        b"Content-Length"])
    (folder / "server_send.txt").write_bytes(b"HTTP/1.1 418 I'm a teapot\r\n\r\n")
    assert exchange(port) == b"HTTP/1.1 418 I'm a teapot\r\n\r\n"  # read at each request


def test_once_answers_once_then_exits(run_starter):
    process, port, _ = run_starter("once")
    lines, body = split(exchange(port))
    assert lines[0] == b"HTTP/1.1 200 OK" and b'href="index.css"' in body
    assert process.wait(timeout=10) == 0
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


@pytest.mark.parametrize("language", ["en", "ja"])
def test_loop_answers_every_request_with_crlf(run_starter, language):
    _, port, _ = run_starter("loop", language)
    numbers = []
    for _ in range(3):
        lines, body = split(exchange(port))
        assert lines[0] == b"HTTP/1.1 200 OK"
        headers = dict(line.split(b": ", 1) for line in lines[1:])
        assert int(headers[b"Content-Length"]) == len(body)
        numbers.append(int(body.split(b"Answer number ")[1].split(b".")[0]))
    # One after another (the readiness probe was a connection too: it counted).
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]


def test_static_serves_its_folder_with_the_table(run_starter):
    _, port, _ = run_starter("static")
    lines, body = split(exchange(port, b"GET /index.css HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert lines[0] == b"HTTP/1.1 200 OK" and b"Content-Type: text/css" in lines
    assert body == dict(starters.files("static"))["static/index.css"][0]
    lines, body = split(exchange(port, b"GET /?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert b"Content-Type: text/html; charset=utf-8" in lines and b"<html" in body.lower()
    lines, _ = split(exchange(port, b"GET /logo.png HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert b"Content-Type: image/png" in lines
    for outside in (b"/../main.py", b"/%2e%2e/main.py", b"/nope.html"):
        lines, _ = split(exchange(port, b"GET " + outside + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert lines[0] == b"HTTP/1.1 404 Not Found", outside


def test_threads_answer_while_a_slow_one_waits(run_starter):
    _, port, _ = run_starter("threads")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        lines, body = split(exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert b"Quick answer" in body
        slow.setblocking(False)
        with pytest.raises(BlockingIOError):  # /slow is still being worked on
            slow.recv(100)
        slow.setblocking(True)
        assert b"Slow answer" in slow.recv(65536)


def test_henaserver_starter_runs_henaserver(run_starter):
    _, port, _ = run_starter("henaserver")
    lines, body = split(exchange(port, b"GET /index.css HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\n\r\n"))
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert any(line.startswith(b"Server: henaserver") for line in lines)
    assert body == dict(starters.files("henaserver"))["index.css"][0]

