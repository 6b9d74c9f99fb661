"""The supervisor with real henaserver processes (no Django involved, nothing mocked)."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.request
from pathlib import Path

import pytest
from testkit.waiting import wait_until

from playground.sandboxes.exits import StartError
from playground.sandboxes.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[3]


class Recorder:
    """Collects callbacks from the supervisor's threads."""

    def __init__(self):
        self.events = []
        self.exits = []
        self.exited = threading.Event()
        self.cond = threading.Condition()

    def on_event(self, key, event, tag=""):
        with self.cond:
            self.events.append((key, event))
            self.cond.notify_all()

    def on_exit(self, key, info):
        self.exits.append((key, info))
        self.exited.set()

    def wait_for(self, predicate, timeout=5.0):
        with self.cond:
            return self.cond.wait_for(lambda: any(predicate(e) for _k, e in self.events),
                                      timeout)


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("<h1>hello</h1>")
    return root


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def sup(rec):
    supervisor = Supervisor(on_event=rec.on_event, on_exit=rec.on_exit, cwd=str(REPO))
    yield supervisor
    supervisor.stop_all()


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_start_waits_for_listening_then_serves(sup, rec, site):
    child = sup.start("a", root=str(site), host="127.0.0.1", port=0)

    assert child.port > 0  # the real port from `server.listening`, not the 0 we asked for
    assert child.listening["pid"] == child.pid
    assert rec.events[0][1]["type"] == "server.listening"
    assert get(f"http://127.0.0.1:{child.port}/") == (200, b"<h1>hello</h1>")
    assert sup.get("a") is child
    assert sup.pids() == {"a": child.pid}


def test_events_reach_on_event_and_stats_are_kept(sup, rec, site):
    child = sup.start("a", root=str(site), host="127.0.0.1", port=0)
    get(f"http://127.0.0.1:{child.port}/")

    assert rec.wait_for(lambda e: e["type"] == "exchange" and e["status"] == 200)
    assert rec.wait_for(lambda e: e["type"] == "server.stats" and e["exchanges"] >= 1)
    assert child.stats["exchanges"] >= 1


def test_port_clash_is_a_clear_error(sup, rec, site):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartError) as caught:
            sup.start("a", root=str(site), host="127.0.0.1", port=port)

    error = caught.value
    assert error.reason == "port_in_use"
    assert str(error) == f"port {port} is already used by another program"
    assert error.returncode == 2
    assert any("in use" in line for line in error.stderr_tail)
    assert sup.get("a") is None
    assert rec.exits == []  # a failed start is reported by the exception only


def test_missing_root_reports_the_servers_own_words(sup, site):
    with pytest.raises(StartError) as caught:
        sup.start("a", root=str(site / "nope"), host="127.0.0.1", port=0)
    assert caught.value.reason == "exited"
    assert caught.value.returncode == 2
    assert caught.value.stderr_tail  # what henaserver printed is kept for the learner
    assert caught.value.stderr_tail[-1] in str(caught.value)


def test_crash_is_reported_with_exit_code_and_stderr_tail(sup, rec, site):
    child = sup.start("a", root=str(site), host="127.0.0.1", port=0)
    os.kill(child.pid, signal.SIGKILL)

    assert rec.exited.wait(5)
    key, info = rec.exits[0]
    assert key == "a"
    assert info.requested is False
    assert info.returncode == -signal.SIGKILL
    assert "SIGKILL" in info.describe()
    assert info.pid == child.pid
    assert isinstance(info.stderr_tail, tuple)
    assert sup.get("a") is None


def test_stop_is_clean_and_reported_as_requested(sup, rec, site):
    child = sup.start("a", root=str(site), host="127.0.0.1", port=0)
    info = sup.stop("a")

    assert info.requested is True
    assert info.returncode == 0  # it exited by itself on stdin EOF, no signal needed
    assert rec.exits == [("a", info)]
    assert any(e["type"] == "server.stopping" for _k, e in rec.events)
    assert sup.get("a") is None
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{child.port}/")
    assert sup.stop("a") is None  # stopping twice is harmless


def test_same_key_cannot_run_twice_but_can_restart(sup, site):
    first = sup.start("a", root=str(site), host="127.0.0.1", port=0)
    with pytest.raises(ValueError):
        sup.start("a", root=str(site), host="127.0.0.1", port=0)
    port = first.port
    sup.stop("a")
    second = sup.start("a", root=str(site), host="127.0.0.1", port=port)  # same port again
    assert second.pid != first.pid
    assert second.port == port


def test_a_failing_callback_does_not_stop_the_readers(site):
    def broken(*args):
        raise RuntimeError("bug in a callback")

    sup = Supervisor(on_event=broken, on_exit=broken, cwd=str(REPO))
    try:
        child = sup.start("a", root=str(site), host="127.0.0.1", port=0)
        for _ in range(3):
            assert get(f"http://127.0.0.1:{child.port}/")[0] == 200
        wait_until(lambda: child.stats.get("exchanges", 0) >= 3, 5,
                   "the server's stats to count 3 exchanges", interval=0.05)
        assert child.stats["exchanges"] == 3
    finally:
        sup.stop_all()


def test_stop_all_stops_every_child(sup, site, pid_gone):
    pids = [sup.start(k, root=str(site), host="127.0.0.1", port=0).pid for k in "abc"]
    sup.stop_all()
    assert all(pid_gone(pid) for pid in pids)
    assert sup.pids() == {}


PARENT = textwrap.dedent("""
    import sys, time
    from playground.sandboxes.supervisor import Supervisor
    sup = Supervisor()
    child = sup.start("orphan", root=sys.argv[1], host="127.0.0.1", port=0)
    print(child.pid, child.port, flush=True)
    how = sys.argv[2]
    sys.stdin.readline()          # the test has checked the child serves: now die
    if how == "sigkill":
        time.sleep(60)            # the test kills us with SIGKILL
    elif how == "os_exit":
        import os; os._exit(3)    # no atexit, no cleanup at all
    elif how == "sys_exit":
        import atexit; atexit.register(sup.stop_all)
        sys.exit(3)               # what Django's autoreloader does
""")


@pytest.mark.parametrize("how", ["sigkill", "os_exit", "sys_exit"])
def test_no_orphan_when_the_parent_dies(site, how, pid_gone):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(site), how], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = parent.stdout.readline()
        child_pid, port = map(int, line.split())
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
        parent.stdin.write("go\n")
        parent.stdin.flush()
        if how == "sigkill":
            parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert pid_gone(child_pid, timeout=5), f"henaserver {child_pid} outlived its parent"
    finally:
        parent.kill()
        parent.wait()


def test_output_lines_reach_the_callback_as_they_are_written(site, free_port):
    """``on_output`` sees the access log live (the traffic page's server console)."""
    lines = []
    got = threading.Event()

    def on_output(key, stream, line):
        lines.append((key, stream, line))
        if "GET /index.html" in line:
            got.set()

    supervisor = Supervisor(on_output=on_output, cwd=str(REPO), extra_args=())
    try:
        supervisor.start("out", root=str(site), host="127.0.0.1", port=free_port)
        urllib.request.urlopen(f"http://127.0.0.1:{free_port}/index.html", timeout=5).read()
        assert got.wait(5)
        assert any(s == "stdout" and '"GET /index.html HTTP/1.1" 200' in text
                   for _k, s, text in lines)
        assert {k for k, _s, _t in lines} == {"out"}
    finally:
        supervisor.stop_all()


def test_a_stop_for_another_tag_leaves_the_child_alone(sup, site, pid_gone):
    """The playground tags each child with its claim: a stop meant for an earlier
    claim's child must not end a later one (sandboxes/claims.py)."""
    child = sup.start("a", root=str(site), host="127.0.0.1", port=0, tag="new")
    assert sup.stop("a", tag="old") is None
    assert sup.get("a") is child and get(f"http://127.0.0.1:{child.port}/")[0] == 200
    assert sup.stop("a", tag="new") is not None
    assert pid_gone(child.pid)


def test_two_threads_starting_one_key_leave_one_child(sup, site):
    """Both may pass the first check; only one child is registered, the other is
    killed and its start raises ValueError."""
    outcomes: list[object] = []

    def start(tag: str) -> None:
        try:
            outcomes.append(sup.start("a", root=str(site), host="127.0.0.1", port=0, tag=tag))
        except ValueError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start, args=(tag,)) for tag in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    children = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(children) == 1 and len(outcomes) == 2, outcomes
    assert sup.pids() == {"a": children[0].pid}


def _pipe_with(data):
    """A pipe's reading end as the supervisor gets it, with ``data`` written into it
    by a thread (from one preallocated buffer: no copies of it are made)."""
    read_fd, write_fd = os.pipe()

    def write():
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view[:65536]):]
        os.close(write_fd)

    threading.Thread(target=write, daemon=True).start()
    return os.fdopen(read_fd, "rb")


def test_an_overlong_line_from_a_child_is_never_held_whole(site):
    # A line is read in pieces of at most the bound: an event line over MAX_EVENT_LINE
    # is skipped and the reader goes on; a console line is cut, saying how much.
    import tracemalloc

    from playground.sandboxes.pipes import MAX_CONSOLE_LINE, MAX_EVENT_LINE
    from playground.sandboxes.supervisor import Child

    huge = 20 * 1024 * 1024
    events = (b'{"type": "connection.open", "conn": 1}\n' + b"x" * huge + b"\n"
              + b'{"type": "connection.open", "conn": 2}\n')
    console = b"first\n" + b"y" * huge + b"\nlast\n"
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    rec, lines = Recorder(), []
    supervisor = Supervisor(on_event=rec.on_event,
                            on_output=lambda key, stream, line: lines.append(line))
    child = Child(key="k", popen=proc, host="127.0.0.1", requested_port=0, root=str(site))
    tracemalloc.start()
    try:
        supervisor._read_events(child, _pipe_with(events))
        supervisor._read_lines(child, _pipe_with(console), "stdout", child.stdout_tail)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e["conn"] for _k, e in rec.events] == [1, 2]
    assert lines[0] == "first" and lines[2] == "last"
    assert lines[1] == "y" * MAX_CONSOLE_LINE + f" [... {huge + 1 - MAX_CONSOLE_LINE} more bytes]"
    assert peak < 3 * MAX_EVENT_LINE, peak
