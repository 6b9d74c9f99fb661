"""A learner's program under the real bwrap, behind the real capture relay, started by
the real Supervisor (docs/program-sandboxes.md, "Tests for the next session" 1-6, 8-10).
No Django: programs.py, launcher.py and the supervisor stand on their own.

Each test runs its program as a uid of its own (RLIMIT_NPROC counts per uid), and
checks from /proc that nothing of that uid is left afterwards.
"""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest
from testkit.programs import processes_of
from testkit.services import unavailable
from testkit.waiting import wait_until

from playground.sandboxes import cgroups, leftovers, programs
from playground.sandboxes.exits import CPU_USED, PROGRAM_SYNTAX_ERROR, RELAY_STOPPED, StartError
from playground.sandboxes.programs import ProgramLimits, ProgramSpec, bwrap_argv
from playground.sandboxes.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[3]
# Uids no other test of this run uses (helpers' tests run at once on this machine).
_uids = itertools.count(260000 + (os.getpid() % 4000) * 10)

SERVE = """\
import os, socket
port = int(os.environ["PORT"])
s = socket.socket()
s.bind(("", port))
s.listen()
print("listening on", port)
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nConnection: close\\r\\n\\r\\nhello")
    c.close()
"""


class Recorder:
    def __init__(self):
        self.events = []
        self.lines = []
        self.exits = []
        self.cond = threading.Condition()

    def on_event(self, key, event, tag):
        with self.cond:
            self.events.append((key, tag, event))
            self.cond.notify_all()

    def on_output(self, key, stream, line):
        with self.cond:
            self.lines.append((stream, line))
            self.cond.notify_all()

    def on_exit(self, key, info):
        with self.cond:
            self.exits.append(info)
            self.cond.notify_all()

    def of(self, kind):
        return [e for _k, _t, e in self.events if e.get("type") == kind]

    def wait_for(self, predicate, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), (self.events, self.lines)


@pytest.fixture
def isolated():
    why = programs.isolation_missing("bwrap")
    if why is not None:
        unavailable("bwrap", f"programs cannot run isolated here: {why}")


@pytest.fixture
def folders():
    """The sandbox's files and run folders, in a folder the sandbox's uid can pass
    through (pytest's tmp_path is 0700: bwrap, run as that uid, could not bind it)."""
    base = Path(tempfile.mkdtemp(prefix="program-"))
    base.chmod(0o711)
    (base / "files").mkdir()
    yield base / "files", base / "run"
    shutil.rmtree(base)


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def sup(rec, make_spec):  # stopped before make_spec looks for what is left
    supervisor = Supervisor(on_event=rec.on_event, on_output=rec.on_output,
                            on_exit=rec.on_exit, cwd=str(REPO), start_timeout=10.0)
    yield supervisor
    supervisor.stop_all()


@pytest.fixture
def make_spec(folders, free_port):
    uids = []

    def make(source: str, **options) -> ProgramSpec:
        files, run = folders
        (files / "main.py").write_text(textwrap.dedent(source))
        uid = next(_uids)
        uids.append(uid)
        options.setdefault("port", free_port)
        return ProgramSpec(files=str(files), run_dir=str(run), main_file="main.py",
                           host="127.0.0.1", uid=uid, **options)

    yield make
    for uid in uids:  # whatever happened, nothing of the sandbox's uid may remain
        wait_until(lambda uid=uid: not processes_of(uid), 10,
                   f"no process of uid {uid} left")
        # The group of a sandbox whose playground was killed stays until the next
        # start of that sandbox (cgroups._fresh): the tests' uids do not come back.
        cgroups.Bound([f"{cgroups.ROOT}/{h}/{cgroups.PARENT}/uid-{uid}"
                       for h in ("memory", "pids")]).remove()


def http_get(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


# ----- 1. the command line -----------------------------------------------------------

def test_program_builds_bwrap_line():
    spec = ProgramSpec(files="/data/sites/7", run_dir="/data/config/7/run",
                       main_file="main.py", host="127.0.0.1", port=8123, uid=200007,
                       limits=ProgramLimits(cpu_seconds=5, processes=32))
    argv = bwrap_argv(spec, status_fd=5, hosts_fd=6, socket_fd=7)
    command = argv[argv.index("--clearenv") + 1:]

    assert argv[0] == "bwrap"
    for option in ("--unshare-all", "--unshare-user", "--disable-userns", "--new-session",
                   "--die-with-parent", "--clearenv"):
        assert option in argv
    assert "--die-with-parent" in argv  # started from a lasting thread: see the next test
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--remount-ro"] == ["/", "/dev"]
    # Only the files folder is writable; /usr and the launcher read-only. The run
    # folder is not there at all: the launcher gets the socket as a descriptor.
    binds = [tuple(argv[i + 1:i + 3]) for i, a in enumerate(argv) if a == "--bind"]
    assert binds == [("/data/sites/7", "/sandbox/files")]
    assert "/data/config/7/run" not in " ".join(argv)
    ro = [tuple(argv[i + 1:i + 3]) for i, a in enumerate(argv) if a == "--ro-bind"]
    assert ro == [("/usr", "/usr"), (programs.LAUNCHER, "/sandbox/launcher.py")]
    assert argv[argv.index("--ro-bind-data") + 1:][:2] == ["6", "/etc/hosts"]
    env = {command[i + 1]: command[i + 2] for i, a in enumerate(command) if a == "--setenv"}
    assert env == {"PORT": "8123", "HOST": "0.0.0.0", "PYTHONUNBUFFERED": "1",
                   "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin",
                   "HOME": "/sandbox/files", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                   "MALLOC_ARENA_MAX": "2"}
    launcher = command[len(env) * 3:]
    assert launcher[:2] == ["/usr/bin/python3", "/sandbox/launcher.py"]
    assert launcher[launcher.index("--status-fd") + 1] == "5"
    assert launcher[launcher.index("--port") + 1] == "8123"
    assert launcher[launcher.index("--socket-fd") + 1] == "7"
    prlimit = launcher[launcher.index("--") + 1:]
    assert prlimit[:10] == ["prlimit", "--cpu=5:6", "--data=268435456", "--stack=1048576",
                            "--nproc=32", "--nofile=256", "--fsize=67108864",
                            "--as=536870912", "--core=0", "--"]
    assert prlimit[10:] == ["/usr/bin/python3", "main.py", "8123", "0.0.0.0"]

    starter = bwrap_argv(ProgramSpec(**{**spec.__dict__, "with_henaserver": True}),
                         status_fd=5, hosts_fd=6, socket_fd=7)
    assert (programs.henaserver_dir(), "/sandbox/lib/henaserver") in [
        tuple(starter[i + 1:i + 3]) for i, a in enumerate(starter) if a == "--ro-bind"]
    assert starter[starter.index("PYTHONPATH") + 1] == "/sandbox/lib"


def test_a_program_outlives_the_thread_that_started_it(isolated, sup, make_spec):
    # Under daphne a start runs in a request's thread, which then ends. bwrap's
    # --die-with-parent (PR_SET_PDEATHSIG) killed the sandbox right then, until bwrap
    # was started from a thread that lasts (programs.spawn).
    spec = make_spec(SERVE)
    starter = threading.Thread(target=sup.start_program, args=("p", spec))
    starter.start()
    starter.join()
    wait_until(lambda: sup.get("p") and sup.get("p").state == "running", 10, "running")
    # Some time for a death signal to land and the sandbox to go: a thread that
    # ended is an event that has happened, but its effect has no event to await.
    threading.Event().wait(0.3)
    assert http_get(spec.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").endswith(b"hello")


# ----- 2. served through the relay ---------------------------------------------------

def test_program_serves_through_relay(isolated, sup, rec, make_spec):
    spec = make_spec(SERVE)
    child = sup.start_program("p", spec, tag="claim-1")

    request = b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Odd:  spaced \r\n\r\n"
    answer = http_get(spec.port, request)
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    rec.wait_for(lambda: rec.of("exchange"))
    [exchange] = rec.of("exchange")
    assert base64.b64decode(exchange["request_b64"]) == request
    assert base64.b64decode(exchange["response_b64"]) == answer
    # The launcher's events and the relay's arrive with the same key and tag.
    assert {(k, t) for k, t, _e in rec.events} == {("p", "claim-1")}
    assert rec.of("program.listening")[0]["port"] == spec.port
    assert ("stdout", f"listening on {spec.port}") in rec.lines
    # The program runs as the sandbox's uid, in bwrap (the child's pid).
    assert child.pid in processes_of(spec.uid)
    assert os.stat(spec.files).st_uid == spec.uid

    info = sup.stop("p")
    assert info is not None and info.requested and info.returncode == -15
    assert rec.of("program.exited")


# ----- 3. the port: PORT works, another port is named --------------------------------

def test_tutorial_fixed_port_inside_sandbox(isolated, sup, rec, make_spec):
    spec = make_spec(SERVE.replace('int(os.environ["PORT"])', "9090"))
    with pytest.raises(StartError) as caught:
        sup.start_program("p", spec)
    error = caught.value
    assert error.reason == "elsewhere" and error.status == 409
    assert "9090" in str(error) and str(spec.port) in str(error)
    assert "listening on 9090" in error.stderr_tail
    assert sup.get("p") is None


# ----- 4. never listens --------------------------------------------------------------

def test_never_listens(isolated, rec, make_spec):
    supervisor = Supervisor(on_event=rec.on_event, on_output=rec.on_output,
                            cwd=str(REPO), start_timeout=1.0)
    spec = make_spec("""\
        import time
        print("thinking")
        time.sleep(60)
        """)
    with pytest.raises(StartError) as caught:
        supervisor.start_program("p", spec)
    assert caught.value.reason == "timeout"
    assert str(caught.value) == (f"your program did not listen on port {spec.port} "
                                 "within 1 s")
    assert "thinking" in caught.value.stderr_tail
    assert supervisor.get("p") is None


# ----- 5. a syntax error; an exit at once --------------------------------------------

def test_syntax_error_and_exit_at_once(isolated, sup, rec, make_spec):
    spec = make_spec("""\
        import os

        print("x"
        """)
    with pytest.raises(StartError) as caught:
        sup.start_program("p", spec)
    error = caught.value
    assert error.reason == "exited"
    assert error.message.template == PROGRAM_SYNTAX_ERROR
    assert error.message.params["line"] == 3 and error.message.params["offset"] == 6
    assert rec.of("program.syntax_error")[0]["line"] == 3
    assert any("SyntaxError" in line for line in error.stderr_tail)  # Python's own words

    spec = make_spec("""\
        import sys
        print("bye")
        sys.exit(3)
        """)
    with pytest.raises(StartError) as caught:
        sup.start_program("p", spec)
    assert caught.value.reason == "exited" and caught.value.returncode == 3
    assert str(caught.value) == "your program ended before it listened (exit code 3): bye"


# ----- 6. below 1024 -----------------------------------------------------------------

def test_bind_privileged_port_fails(isolated, sup, make_spec):
    spec = make_spec(SERVE.replace('int(os.environ["PORT"])', "80"))
    with pytest.raises(StartError) as caught:
        sup.start_program("p", spec)
    assert caught.value.reason == "exited"
    assert any("PermissionError" in line for line in caught.value.stderr_tail)


# ----- the CPU limit ------------------------------------------------------------------

def test_cpu_limit_is_named(isolated, sup, rec, make_spec):
    spec = make_spec(SERVE.replace("c.recv(65536)", "c.recv(65536)\n    while True: pass"),
                     limits=ProgramLimits(cpu_seconds=1))
    sup.start_program("p", spec)
    with socket.create_connection(("127.0.0.1", spec.port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        rec.wait_for(lambda: rec.exits, timeout=20)
    [info] = rec.exits
    assert not info.requested and info.returncode == -24  # SIGXCPU, not SIGKILL
    assert info.message().template == CPU_USED
    assert str(info.message()) == "used its 1 s of CPU (killed by signal SIGXCPU, exit code -24)"


# ----- 9. a stop hands on the relay's last events ------------------------------------

def test_stop_returns_after_relay_tail(isolated, sup, rec, make_spec):
    spec = make_spec("""\
        import os, socket, threading
        s = socket.socket()
        s.bind(("", int(os.environ["PORT"])))
        s.listen()
        def serve(c):
            while c.recv(65536):
                c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
        while True:
            threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
        """)
    sup.start_program("p", spec)
    with socket.create_connection(("127.0.0.1", spec.port), timeout=10) as conn:
        for _ in range(2):  # keep-alive: the connection stays open
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(65536).endswith(b"\r\n\r\nok")
        rec.wait_for(lambda: len(rec.of("exchange")) == 2)
        assert not rec.of("connection.close")
        sup.stop("p")
        closes = rec.of("connection.close")  # read at once: before stop() returned
    assert len(closes) == 1 and closes[0]["exchanges"] == 2
    assert rec.of("server.stopping") and rec.of("program.exited")


# ----- 8, 10. nothing left behind ----------------------------------------------------

# A program that ignores SIGTERM and leaves a grandchild in a session of its own that
# ignores it too: only the pid namespace's end takes them.
STUBBORN = """\
import os, signal, socket, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
    os._exit(0)
s = socket.socket()
s.bind(("", int(os.environ["PORT"])))
s.listen()
time.sleep(600)
"""

PARENT = """\
import sys, time
from playground.sandboxes.programs import ProgramSpec
from playground.sandboxes.supervisor import Supervisor
files, run, port, uid, repo = sys.argv[1:]
spec = ProgramSpec(files=files, run_dir=run, main_file="main.py", host="127.0.0.1",
                   port=int(port), uid=int(uid))
child = Supervisor(cwd=repo).start_program("p", spec)
print(child.pid, child.relay.pid, flush=True)
time.sleep(600)
"""


def test_no_orphans(isolated, make_spec):
    spec = make_spec(STUBBORN)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, spec.files, spec.run_dir,
                               str(spec.port), str(spec.uid), str(REPO)],
                              stdout=subprocess.PIPE, text=True)
    try:
        bwrap, relay = map(int, parent.stdout.readline().split())
        wait_until(lambda: len(processes_of(spec.uid)) >= 4, 10,
                   "bwrap, its init, the launcher, the program and its grandchild")
    finally:
        parent.send_signal(signal.SIGKILL)  # the playground dies without a word
        parent.wait()
        parent.stdout.close()
    wait_until(lambda: not processes_of(spec.uid), 10, "no process of the uid left")
    wait_until(lambda: not leftovers.alive(relay), 10, "the relay gone")
    assert not leftovers.alive(bwrap)


def test_leftovers_find_program_sandbox(isolated, rec, make_spec):
    spec = make_spec(STUBBORN)
    earlier = Supervisor(on_exit=rec.on_exit, cwd=str(REPO))  # an earlier claim's
    try:
        child = earlier.start_program("p", spec)
        assert child.relay is not None
        assert leftovers.is_sandbox_server(child.pid, spec.port)
        assert not leftovers.is_sandbox_server(child.pid, spec.port + 1)
        found = leftovers.serving(spec.files)
        assert sorted(found) == sorted([child.pid, child.relay.pid])
        assert leftovers.serving(str(Path(spec.files).parent)) == []

        leftovers.end(found, wait=0)
        wait_until(lambda: not processes_of(spec.uid), 10, "no process of the uid left")
        assert not leftovers.alive(child.relay.pid)
        rec.wait_for(lambda: rec.exits)
        assert not rec.exits[0].requested  # the earlier owner sees it ended
    finally:
        earlier.stop_all()


# ----- the launcher's forwarder ------------------------------------------------------

def test_forwarder_copies_bytes_unchanged_both_ways(isolated, sup, rec, make_spec):
    # 3 MB up and the same 3 MB back on one connection, through the relay, the Unix
    # socket and the launcher, to a program bound to ::1 only (the forwarder connects
    # to the address the program listens on, found in /proc/net/tcp6).
    spec = make_spec("""\
        import os, socket
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", int(os.environ["PORT"])))
        s.listen()
        while True:
            c, _ = s.accept()
            head = b""
            while b"\\r\\n\\r\\n" not in head:
                head += c.recv(65536)
            head, body = head.split(b"\\r\\n\\r\\n", 1)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\\r\\n")[0])
            while len(body) < length:
                body += c.recv(65536)
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % length + body)
            c.close()
        """)
    sup.start_program("p", spec)
    assert rec.of("program.listening")[0]["address"] == "::1"
    body = os.urandom(3 * 2**20)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    answer = http_get(spec.port, head + body)
    assert answer == b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_a_close_without_answer_reaches_the_relay_as_eof(isolated, sup, rec, make_spec):
    spec = make_spec(SERVE.replace("    c.sendall(", "    0 and c.sendall("))
    sup.start_program("p", spec)
    answer = http_get(spec.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    rec.wait_for(lambda: rec.of("exchange"))
    [exchange] = rec.of("exchange")
    # The browser gets nothing, as from the program itself; the relay names it.
    assert answer == b"" and exchange["response_b64"] == ""
    assert exchange["outcome"] == "server_closed"
    assert exchange["mistake"] == "closed_without_response"
    assert base64.b64decode(exchange["request_b64"]) == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


# ----- without isolation (no bwrap here): only where the site allows it --------------

def test_without_bwrap_the_program_runs_on_an_internal_port(sup, rec, make_spec):
    # Another program of this host listening is not taken for the learner's.
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        spec = make_spec(SERVE, bwrap="/nonexistent/bwrap")
        assert programs.isolation_missing(spec.bwrap) == "no bwrap"
        child = sup.start_program("p", spec)
    inner = rec.of("program.listening")[0]["port"]
    assert inner != spec.port and ("stdout", f"listening on {inner}") in rec.lines
    assert http_get(spec.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").endswith(b"hello")
    if os.geteuid() == 0:  # as root it still never runs as root
        assert child.pid in processes_of(spec.uid)
    sup.stop("p")


# ----- a program that ends by itself after it listened -------------------------------

@pytest.mark.parametrize("code", [0, 3])
def test_a_program_that_ends_by_itself(isolated, sup, rec, make_spec, code):
    end = f"    c.close()\n    print('bye')\n    raise SystemExit({code})\n"
    spec = make_spec(SERVE.replace("    c.close()\n", end))
    sup.start_program("p", spec)
    assert http_get(spec.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").endswith(b"hello")
    rec.wait_for(lambda: rec.exits)
    [info] = rec.exits
    assert info.program and not info.requested and info.returncode == code
    assert info.stderr_tail[-1] == "bye"  # the console's last line, for the card
    assert str(info.message()) == f"exit code {code}"
    outcome = programs.exit_outcome(info)
    assert (str(outcome) if outcome else None) == (
        "your program ended by itself (exit code 0)" if code == 0 else None)
    # Its relay went with it: the port is free again.
    wait_until(lambda: sup.get("p") is None, 10, "the child gone")
    with socket.socket() as probe:  # (as servers do: the relay's TIME_WAITs stay)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", spec.port))


def test_the_relay_ending_by_itself_ends_the_program(isolated, sup, rec, make_spec):
    spec = make_spec(SERVE)
    child = sup.start_program("p", spec)
    child.relay.kill()
    rec.wait_for(lambda: rec.exits)
    [info] = rec.exits
    assert not info.requested and info.stop_reason == RELAY_STOPPED
    assert info.returncode == -15  # the launcher ended the program (its stdin EOF)
    assert sup.get("p") is None


def test_a_taken_port_is_port_in_use_and_the_program_ends(isolated, sup, make_spec):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        spec = make_spec(SERVE, port=holder.getsockname()[1])
        with pytest.raises(StartError) as caught:
            sup.start_program("p", spec)
    assert caught.value.reason == "port_in_use" and caught.value.status == 409
    assert sup.get("p") is None


def test_the_program_cannot_point_the_relay_at_another_socket(isolated, sup, folders,
                                                              make_spec):
    # Were the run folder bound in, the program could swap program.sock for a symlink
    # to any Unix socket of the host, and the relay (outside, as the playground) would
    # connect there: it answered with a root-only socket's bytes before the fix.
    files, run = folders
    secret = files.parent / "secret.sock"
    attempt = "".join(
        f"try:\n    os.symlink({str(secret)!r}, {path!r} + '.x')\n"
        f"    os.replace({path!r} + '.x', {path!r})\n    print('replaced')\n"
        f"except OSError as error:\n    print('refused', error)\n"
        for path in ("/sandbox/run/program.sock", str(run / "program.sock")))
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(secret))
        server.listen()
        server.settimeout(0.2)
        wait = ("import time\nfor _ in range(500):  # until the launcher made its socket\n"
                "    if not os.path.isdir('/sandbox/run') or "
                "os.path.exists('/sandbox/run/program.sock'):\n        break\n"
                "    time.sleep(0.01)\n")
        spec = make_spec(SERVE.replace("while True:", wait + attempt + "while True:"))
        sup.start_program("p", spec)
        answer = http_get(spec.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(TimeoutError):
            server.accept()  # nothing reached the host's socket
    assert answer.endswith(b"hello")
    assert not (run / "program.sock").is_symlink()


def test_leftovers_find_a_program_without_bwrap(sup, make_spec):
    spec = make_spec(STUBBORN.replace('os.environ["PORT"]', "__import__('sys').argv[1]"),
                     bwrap="/nonexistent/bwrap")
    child = sup.start_program("p", spec)
    assert sorted(leftovers.serving(spec.files)) == sorted([child.pid, child.relay.pid])


def test_a_socket_path_too_long_is_refused_before_anything_runs(sup, folders, make_spec):
    files, run = folders
    deep = run / ("d" * 100)
    spec = make_spec(SERVE)
    spec = ProgramSpec(**{**spec.__dict__, "run_dir": str(deep)})
    with pytest.raises(StartError) as caught:
        sup.start_program("p", spec)
    assert caught.value.reason == "exited"
    assert "longer than the 107 a Unix socket allows" in str(caught.value)
    assert not deep.exists() and sup.get("p") is None


def test_the_program_cannot_speak_for_its_launcher(isolated, rec, make_spec):
    # The program runs as the launcher's uid: through /proc/LAUNCHER/fd it could write
    # on the status pipe, as the launcher. The launcher is not dumpable (so /proc
    # refuses), and the supervisor takes only program.* events from that pipe.
    supervisor = Supervisor(on_event=rec.on_event, on_output=rec.on_output,
                            cwd=str(REPO), start_timeout=1.5)
    forged = ('{"type": "server.listening", "port": 1, "url": "x"}\\n'
              '{"type": "exchange", "conn": 1, "status": 200}\\n')
    spec = make_spec(f"""\
        import os, time
        launcher = os.getppid()
        try:
            for fd in os.listdir(f"/proc/{{launcher}}/fd"):
                try:
                    with open(f"/proc/{{launcher}}/fd/{{fd}}", "w") as pipe:
                        pipe.write({forged!r})
                    print("wrote on", fd)
                except OSError as error:
                    print("could not write on", fd, error)
        except OSError as error:
            print("refused:", error)
        time.sleep(60)
        """)
    with pytest.raises(StartError) as caught:
        supervisor.start_program("p", spec)
    assert caught.value.reason == "timeout"
    assert any(line.startswith("refused: [Errno 13]") for line in caught.value.stderr_tail)
    assert not rec.of("server.listening") and not rec.of("exchange")


def test_a_launcher_pipe_carries_only_program_events(rec):
    # The second guard of the test above: whatever reaches the launcher's pipe, only
    # program.* events count.
    from playground.sandboxes.children import Child

    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    child = Child(key="k", popen=proc, host="127.0.0.1", requested_port=0, root="/")
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b'{"type": "server.listening", "port": 1}\n'
                       b'{"type": "exchange", "conn": 1}\n'
                       b'{"type": "program.listening", "port": 2}\n')
    os.close(write_fd)
    Supervisor(on_event=rec.on_event)._read_events(child, os.fdopen(read_fd, "rb"),
                                                   "program.")
    assert [e["type"] for _k, _t, e in rec.events] == ["program.listening"]
    assert child.listening is None and child.program == {"type": "program.listening",
                                                         "port": 2}


def test_henaserver_itself_as_the_program(isolated, sup, rec, make_spec):
    # The "henaserver itself" starter: the package bound read-only, on PYTHONPATH.
    spec = make_spec("""\
        import os
        from henaserver.__main__ import main
        main(["--root", ".", "--host", os.environ["HOST"], "--port", os.environ["PORT"]])
        """, with_henaserver=True)
    (Path(spec.files) / "index.html").write_text("<h1>hi</h1>")
    sup.start_program("p", spec)
    answer = http_get(spec.port, b"GET /index.html HTTP/1.1\r\nHost: x\r\n"
                                 b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"<h1>hi</h1>")
    assert b"Server: henaserver" in answer


def test_memory_no_rlimit_counts_is_refused(isolated, sup, make_spec):
    # memfds and System V segments are memory charged to no process (C's hostile
    # tests show 1.2 GB of each): the seccomp filter refuses the calls that make them.
    spec = make_spec("""\
        import ctypes, os, socket
        try:
            os.memfd_create("x")
            print("memfd made")
        except OSError as error:
            print("memfd:", error.errno)
        libc = ctypes.CDLL(None, use_errno=True)
        print("shmget:", libc.shmget(0, 2**20, 0o1600), ctypes.get_errno())
        s = socket.socket()
        s.bind(("", int(os.environ["PORT"])))
        s.listen()
        s.accept()
        """)
    sup.start_program("p", spec)
    child = sup.get("p")
    wait_until(lambda: len(child.console_tail) >= 2, 10, "the program's two lines")
    assert list(child.console_tail)[:2] == ["memfd: 1", "shmget: -1 1"]  # EPERM
    assert programs.seccomp_filter() is not None  # this machine's numbers are known


def test_isolation_missing_says_why(folders):
    assert programs.isolation_missing("/nonexistent/bwrap") == "no bwrap"
    if os.geteuid() != 0:
        assert programs.isolation_missing("bwrap") == "not root"
        return
    # A bwrap the kernel does not let make namespaces (as some distributions ship):
    # found by trying it once, not at each start.
    broken = folders[0] / "bwrap"  # where nobody may run it
    broken.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                      "exit 1\n")
    broken.chmod(0o755)
    assert programs.isolation_missing(str(broken)) == (
        "bwrap does not work here: bwrap: No permissions to create new namespace")


def test_nothing_of_the_uid_runs_while_its_folder_is_prepared(isolated, sup, make_spec):
    # The folder is handed to the uid by a walk as root: whatever of that uid could
    # still run (an earlier run's, anywhere) could swap a subfolder for a symlink to
    # /etc under the walk. It is ended first.
    spec = make_spec(SERVE)
    earlier = subprocess.Popen(["/usr/bin/sleep", "60"], user=spec.uid, group=spec.uid,
                               extra_groups=[])
    try:
        sup.start_program("p", spec)
        assert earlier.wait(10) == -signal.SIGKILL
    finally:
        earlier.kill()
        earlier.wait()


def test_the_sandbox_as_a_whole_is_bounded(isolated, sup, make_spec):
    # rlimits bound each process (here 150 MB is under --data); four of them would be
    # 600 MB: the sandbox's control group holds them to its 300 MB, killing some.
    if cgroups.Bound.make("probe", 2**20, 1) is None:
        unavailable("a cgroup tree", "the sandbox's memory cannot be bounded as a whole")
    cgroups.Bound([f"{cgroups.ROOT}/{h}/{cgroups.PARENT}/probe"
                   for h in ("memory", "pids")]).remove()
    spec = make_spec("""\
        import os, socket, time
        children = []
        for n in range(4):
            pid = os.fork()
            if pid == 0:
                held = bytearray(150 * 2**20)
                for page in range(0, len(held), 4096):
                    held[page] = 1
                time.sleep(60)
            children.append(pid)
        s = socket.socket()
        s.bind(("", int(os.environ["PORT"])))
        s.listen()
        for _child in children:  # in the order they end
            print("child ended:", os.wait()[1])
        """, limits=ProgramLimits(memory_bytes=300 * 2**20))
    sup.start_program("p", spec)
    child = sup.get("p")
    assert child.bound is not None
    group = child.bound.folders[0]  # uid-<uid>-<pid>-<token>: this run's own
    assert group.startswith(f"{cgroups.ROOT}/memory/{cgroups.PARENT}/uid-{spec.uid}-")
    assert os.path.isdir(group)
    wait_until(lambda: "child ended: 9" in child.console_tail, 30, "a child killed",
               explain=lambda: f"console {list(child.console_tail)} oom_kills "
                               f"{child.bound.oom_kills()} tree in group " + open(
                                   f"{group}/cgroup.procs").read().replace("\n", " "))
    assert child.bound.oom_kills() > 0
    sup.stop("p")
    assert not os.path.exists(group)  # removed with the sandbox


# ----- review: what a beginner's end is told with (issue 13 point 7) ----------------

def test_a_nul_byte_is_named_as_a_syntax_error(isolated, sup, make_spec):
    """Python 3.11 runs a file up to its first NUL without a word and exits 0: the
    learner would read "ended before it listened (exit code 0): no error message"."""
    spec = make_spec('import os\nx = "a\x00"\n')
    with pytest.raises(StartError) as caught:
        sup.start_program("p", spec)
    error = caught.value
    assert error.message.template == PROGRAM_SYNTAX_ERROR
    assert (error.message.params["line"], error.message.params["offset"]) == (2, 7)
    assert "null bytes" in error.message.params["message"]


def test_a_crash_is_told_by_its_traceback_not_an_earlier_print(isolated, sup, make_spec):
    """stdout and stderr are two pipes read by two threads: the last line of the console
    is not always the last the program wrote. A failing exit is told with its stderr's
    last line, the exception, whatever the order the console got them in."""
    spec = make_spec("""\
        import sys, time, traceback
        try:
            1 / 0
        except ZeroDivisionError:
            traceback.print_exc()
        time.sleep(0.2)  # this print surely comes last
        print("bye")
        sys.exit(1)
        """)
    with pytest.raises(StartError) as caught:
        sup.start_program("p", spec)
    assert str(caught.value) == ("your program ended before it listened (exit code 1): "
                                 "ZeroDivisionError: division by zero")
    # The race itself: a print just before the crash, many times.
    spec = make_spec('print("starting up")\nx = 1 / 0\n')
    for _ in range(10):
        with pytest.raises(StartError) as caught:
            sup.start_program("p", spec)
        assert str(caught.value).endswith("ZeroDivisionError: division by zero")


def test_a_running_program_s_crash_names_its_exception(isolated, sup, rec, make_spec):
    spec = make_spec(SERVE.replace("while True:", """\
import sys, time, traceback
c, _ = s.accept()
try:
    int("x")
except ValueError:
    traceback.print_exc()
time.sleep(0.2)
print("bye")
sys.exit(2)
while True:"""))
    sup.start_program("p", spec)
    with socket.create_connection(("127.0.0.1", spec.port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.recv(100)
    rec.wait_for(lambda: rec.exits)
    info = rec.exits[0]
    assert info.returncode == 2 and info.stderr_tail[-1] == "bye"
    assert info.errors_tail[-1].startswith("ValueError: invalid literal")
