"""The engine (engine.py) on real sockets: the run's files written first and always
removed, every check run in order and labelled, each connection announced before its
first byte, deadlines per check and per stage, Stop, and a check's own crash."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from testkit.checked import read_head

from playground.checking import engine
from playground.checking.context import Check, Context, Stage
from playground.checking.results import CheckFailed, Failure
from playground.refusals import Message, Refusal

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def silent(conn, number):
    read_head(conn)
    conn.recv(1)  # until the checker hangs up


def answer_ok(conn, number):
    read_head(conn)
    conn.sendall(OK)


def fetch(ctx: Context) -> Failure | None:
    conn = ctx.connect()
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.read_response()
    return None


def passes(ctx: Context) -> Failure | None:
    return None


def fail(ctx: Context) -> Failure | None:
    return Failure(Message("failed on purpose"))


def stage(number: int, *runs, timeout: float = 5.0) -> Stage:
    checks = tuple(Check(f"c{i}", "a check", run, timeout=timeout)
                   for i, run in enumerate(runs, 1))
    return Stage(number, f"s{number}", "a stage", "its summary", (), checks)


def test_checks_run_in_order_with_labels_and_reached(servers):
    target = servers.scripted(answer_ok)
    seen = []
    outcomes = engine.run(target, stages=[stage(1, fetch, fetch), stage(2, fail, fetch),
                                          stage(3, fetch)], on_outcome=seen.append)
    assert [(o.label, o.check, o.passed) for o in outcomes] == [
        ("1.1", "c1", True), ("1.2", "c2", True), ("2.1", "c1", False),
        ("2.2", "c2", True), ("3.1", "c1", True)]
    assert seen == outcomes and engine.reached(outcomes) == 1
    assert str(outcomes[2].failure.message) == "failed on purpose"
    assert engine.reached([]) == 0 and engine.reached(outcomes[:2]) == 1


def test_through_stops_after_that_stage(servers):
    outcomes = engine.run(servers.scripted(answer_ok), through=1,
                          stages=[stage(1, fetch), stage(2, fetch)])
    assert [o.label for o in outcomes] == ["1.1"]


def test_each_connection_is_announced_before_its_first_byte(servers):
    received: dict[int, bytes] = {}
    announced = []
    server = servers.scripted(answer_ok)

    def on_connect(port, stage_number, label):
        # Nothing sent yet: what the checker sent on this port is still empty.
        announced.append((port, stage_number, label, received.get(port, b"")))

    def check(ctx):
        conn = ctx.connect()
        received[conn.local_port] = b"sent"
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.read_response()
    outcomes = engine.run(server, stages=[stage(4, check, check)], on_connect=on_connect)
    assert [(p, s, label, data) for p, s, label, data in announced] == [
        (outcomes[0].sent[0].local_port, 4, "4.1", b""),
        (outcomes[1].sent[0].local_port, 4, "4.2", b"")]
    assert outcomes[0].sent[0].index == 0


def test_the_files_are_there_during_the_run_and_gone_after(servers, tmp_path):
    target = servers.scripted(answer_ok)
    seen = {}

    def look(ctx):
        files = ctx.files
        seen["names"] = sorted(p.name for p in Path(target.docroot).rglob("*"))
        seen["files"] = files
        for file in files.served:
            assert (Path(target.docroot) / file.name).read_bytes() == file.content
            assert os.stat(Path(target.docroot) / file.name).st_mode & 0o777 == 0o644
        raise RuntimeError("a check's own bug")
    outcomes = engine.run(target, stages=[stage(1, look)])
    files = seen["files"]
    assert len(seen["names"]) == 6  # five files and the subfolder
    assert "could not finish" in str(outcomes[0].failure.message)
    assert list(Path(target.docroot).rglob("*")) == []
    assert files.secret_path and not Path(files.secret_path).exists()


def test_a_folder_that_cannot_be_written_is_a_refusal(tmp_path):
    target = engine.Target("127.0.0.1", 1, str(tmp_path / "missing"))
    with pytest.raises(Refusal) as refused:
        engine.run(target, stages=[stage(1, fetch)])
    assert "Could not write the check's files" in str(refused.value)


def test_an_existing_file_is_never_overwritten(tmp_path):
    from playground.checking.inputs import GeneratedFiles

    files = GeneratedFiles.make()
    mine = tmp_path / files.css.name
    mine.write_bytes(b"the learner's")
    with pytest.raises(FileExistsError):
        files.write(str(tmp_path))
    files.remove()
    assert mine.read_bytes() == b"the learner's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [files.css.name]


def test_a_check_that_ignores_its_deadline_is_failed_and_the_run_goes_on(servers):
    release = threading.Event()

    def stuck(ctx):
        release.wait(30)  # a check that forgot its deadline
    try:
        outcomes = engine.run(servers.scripted(answer_ok),
                              stages=[stage(1, stuck, fetch, timeout=0.3)])
    finally:
        release.set()
    assert [o.passed for o in outcomes] == [False, True]
    assert "took longer than its 0.3 seconds" in str(outcomes[0].failure.message)


def test_a_stage_shares_one_deadline(servers):
    deadlines = []

    def note(ctx):
        deadlines.append((time.monotonic(), ctx.deadline))
        conn = ctx.connect()
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.read_response()  # a silent server: waits until the deadline
    outcomes = engine.run(servers.scripted(silent),
                          stages=[stage(1, note, note, note, note, timeout=0.4)],
                          stage_timeout=1.0)
    first_start = deadlines[0][0]
    assert all(deadline <= first_start + 1.0 for _, deadline in deadlines)
    assert not any(o.passed for o in outcomes) and len(outcomes) == 4
    assert "used up" in str(outcomes[-1].failure.message)


def test_stop_inside_a_check_ends_the_run_unreported(servers):
    stop = threading.Event()
    started = threading.Event()

    def waits(ctx):
        started.set()
        conn = ctx.connect()
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.read_response()
    threading.Thread(target=lambda: started.wait(10) and stop.set(), daemon=True).start()
    target = servers.scripted(silent)
    outcomes = engine.run(target, cancelled=stop,
                          stages=[stage(1, passes), stage(2, waits, passes)])
    assert [o.label for o in outcomes] == ["1.1"]
    assert list(Path(target.docroot).rglob("*")) == []


def test_stop_between_checks(servers):
    stop = threading.Event()
    outcomes = engine.run(servers.scripted(answer_ok), cancelled=stop,
                          on_outcome=lambda o: stop.set(),
                          stages=[stage(1, fetch, fetch, fetch)])
    assert [o.label for o in outcomes] == ["1.1"]


def test_a_failure_carries_the_console_of_a_dead_server(servers):
    target = servers.scripted(answer_ok)
    dead = engine.Target(target.host, target.port, target.docroot,
                         console=lambda: "Traceback: boom")

    def refuses(ctx):
        raise CheckFailed(Failure(Message("gone")))
    outcomes = engine.run(dead, stages=[stage(1, fetch, refuses)])
    assert outcomes[0].failure is None
    assert outcomes[1].failure.console == "Traceback: boom"
    broken = engine.Target(target.host, target.port, target.docroot,
                           console=lambda: 1 / 0)
    assert engine.run(broken, stages=[stage(1, refuses)])[0].failure.console == ""
