"""Every starter as the playground runs it: under the real bwrap, as a uid of its own,
behind the real capture relay, started by the real Supervisor (no Django). What the
relay records is checked too: a starter that writes its head with CRLF makes no
mistake, and the loop with its CRLFs broken is named ``bare_lf`` (the issue's "Done
when", below the browser)."""

from __future__ import annotations

import base64
import itertools
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest
from testkit.services import unavailable

from playground.sandboxes import programs, starters
from playground.sandboxes.programs import ProgramSpec
from playground.sandboxes.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[3]
# Uids no other test of this run uses (other test files count from 260000 and 200000).
_uids = itertools.count(240000 + (os.getpid() % 1000) * 10)
GET = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


class Recorder:
    """The supervisor's callbacks: events and exits, awaited with a condition."""

    def __init__(self):
        self.events, self.exits = [], []
        self.cond = threading.Condition()

    def on_event(self, key, event, tag):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def on_output(self, key, stream, line):
        pass

    def on_exit(self, key, info):
        with self.cond:
            self.exits.append(info)
            self.cond.notify_all()

    def exchanges(self, count, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self._exchanges()) >= count, timeout), \
                self.events
            return self._exchanges()

    def _exchanges(self):
        return [e for e in self.events if e.get("type") == "exchange"]


@pytest.fixture
def run(free_port):
    """run(starter_id, source=None) -> (port, files folder, recorder): the starter laid
    out as the playground does (main.py + its files) and started under bwrap."""
    if programs.isolation_missing("bwrap") is not None:
        unavailable("bwrap", programs.isolation_missing("bwrap"))
    base = Path(tempfile.mkdtemp(prefix="starter-"))
    base.chmod(0o711)  # the sandbox's uid passes through; pytest's tmp_path is 0700
    rec = Recorder()
    sup = Supervisor(on_event=rec.on_event, on_output=rec.on_output, on_exit=rec.on_exit,
                     cwd=str(REPO), start_timeout=10.0)

    def start(starter_id: str, source: str | None = None):
        files = base / "files"
        files.mkdir()
        (files / "main.py").write_text(source or starters.source(starter_id, "en"))
        for name, chunks in starters.files(starter_id):
            (files / name).parent.mkdir(parents=True, exist_ok=True)
            (files / name).write_bytes(b"".join(chunks))
        spec = ProgramSpec(files=str(files), run_dir=str(base / "run"), main_file="main.py",
                           host="127.0.0.1", port=free_port, uid=next(_uids),
                           with_henaserver=starters.get(starter_id).with_henaserver)
        sup.start_program(starter_id, spec)
        return free_port, files, rec

    yield start
    sup.stop_all()
    shutil.rmtree(base)


def get(port: int, path: bytes = b"/") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(GET % path)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("starter_id, path, expect", [
    ("saved-response", b"/", b"<h1>It works!</h1>"),
    ("loop", b"/", b"Hello from your server"),
    ("static", b"/index.css", b"Content-Type: text/css\r\n"),
    ("threads", b"/", b"Quick answer"),
    ("henaserver", b"/index.css", b"Server: henaserver"),
])
def test_each_starter_answers_in_its_sandbox(run, starter_id, path, expect):
    port, _files, rec = run(starter_id)
    assert expect in get(port, path)
    exchange = rec.exchanges(1)[-1]
    assert exchange.get("mistake") is None, exchange  # CRLF heads, honest lengths


def test_save_request_writes_in_its_folder_and_says_nothing(run):
    port, files, rec = run("save-request")
    assert get(port) == b""
    assert (files / "server_recv.txt").read_bytes() == GET % b"/"
    assert rec.exchanges(1)[-1]["mistake"] == "closed_without_response"


def test_once_exits_by_itself_after_one_answer(run):
    port, _files, rec = run("once")
    assert b"Answered once" in get(port)
    with rec.cond:
        assert rec.cond.wait_for(lambda: rec.exits, 10)
    assert rec.exits[0].returncode == 0


def test_the_loop_with_its_crlf_broken_is_named(run):
    source = starters.source("loop", "en").replace('\\r\\n"\n', '\\n"\n')
    port, _files, rec = run("loop", source)
    assert b"Hello from your server" in get(port)  # a browser would show it all the same
    assert rec.exchanges(1)[-1]["mistake"] == "bare_lf"


# Pipelined on one connection: a page, a HEAD, a 404, a body the server refuses, a
# conditional request, a malformed request line last (answered 400 and closed).
SAME_REQUESTS = (b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"HEAD /index.css HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                 b"GET /index.css HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"nope\"\r\n\r\n"
                 b"GET  /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
DATE = re.compile(rb"\r\nDate: [^\r\n]*")


def talk(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_henaserver_as_a_program_records_what_henaserver_records(run, free_ports):
    """The issue's proof that the relay changes nothing: the "henaserver itself"
    starter, under bwrap behind the launcher's forwarder and the capture relay, and
    henaserver run directly on the same folder, given the same bytes, answer the same
    bytes and are recorded as the same exchanges (Date aside)."""
    port, files, rec = run("henaserver")
    relayed_answer = talk(port, SAME_REQUESTS)
    relayed = rec.exchanges(6)

    direct_port = free_ports(1)[0]  # ``free_port`` is the program's (the same fixture)
    direct_rec = Recorder()
    direct = Supervisor(on_event=direct_rec.on_event, on_output=direct_rec.on_output,
                        on_exit=direct_rec.on_exit, cwd=str(REPO), extra_args=())
    try:
        direct.start("direct", root=str(files), host="127.0.0.1", port=direct_port)
        direct_answer = talk(direct_port, SAME_REQUESTS)
        direct_exchanges = direct_rec.exchanges(6)
    finally:
        direct.stop_all()

    assert relayed_answer.count(b"HTTP/1.1 ") == 6
    assert DATE.sub(b"", relayed_answer) == DATE.sub(b"", direct_answer)
    for mine, theirs in zip(relayed, direct_exchanges, strict=True):
        for key in ("request_b64", "method", "target", "version", "status", "outcome",
                    "request_length", "response_length"):
            assert mine[key] == theirs[key], key
        assert (DATE.sub(b"", base64.b64decode(mine["response_b64"]))
                == DATE.sub(b"", base64.b64decode(theirs["response_b64"])))
        assert mine["mistake"] is None
