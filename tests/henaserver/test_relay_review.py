"""Review of the relay (issue 13): bytes the relay has already read from the server are
delivered even when the browser half-closes, a browser that reads slowly is not blamed
on the server, and requests pipelined behind one that gets the relay's own answer are
recorded, not dropped."""

from __future__ import annotations

import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from relaykit import BadServer, decoded, start_relay
from support import ServerProcess

from henaserver.relay import Relay, split_address

REQUEST = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def slow_reader(relay: ServerProcess) -> socket.socket:
    """A browser with a tiny receive buffer: what the relay sends it waits in the relay."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((relay.host, relay.port))
    return sock


def read_all(sock: socket.socket) -> bytes:
    received = bytearray()
    while data := sock.recv(65536):
        received += data
    return bytes(received)


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


@pytest.fixture
def relay_here() -> Iterator[Callable[[str], Relay]]:
    """The real relay in a thread of this process (no events): the test can reach the
    socket it accepted, to make its send buffer small and fixed."""
    started: list[tuple[Relay, threading.Thread]] = []

    def start(to: str) -> Relay:
        relay = Relay(split_address(to), sink=None, body_cap=65536)
        relay.bind("127.0.0.1", 0)
        thread = threading.Thread(target=relay.serve, daemon=True)
        thread.start()
        started.append((relay, thread))
        return relay

    yield start
    for relay, thread in started:
        relay.stop("SIGTERM")
        thread.join(5)


def test_a_half_close_after_the_answer_was_read_delivers_all_of_it(relay_here):
    body = b"x" * 200_000
    sent = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    bad = BadServer(lambda sock, received: sock.sendall(sent), hold=True)
    try:
        relay = relay_here(bad.address)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(relay.address)
        assert wait_until(lambda: relay.pairs)
        pair = next(iter(relay.pairs.values()))
        # Small and fixed: most of the answer waits in the relay, not in the kernel.
        pair.client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.sendall(REQUEST)
        # The relay has read the whole answer from the server (nothing waits for one)
        # and still holds most of it for this browser, which now half-closes.
        assert wait_until(lambda: pair.next_index == 1 and not pair.waiting
                          and pair.held is None)
        assert pair.to_client
        sock.shutdown(socket.SHUT_WR)
        assert read_all(sock) == sent
        sock.close()
    finally:
        bad.stop()


def wait_until(condition: Callable[[], object], timeout: float = 5.0) -> object:
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return result


def test_a_browser_that_pauses_reading_is_not_a_server_that_never_answered(behind):
    body = b"y" * 40_000_000
    sent = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    _, relay = behind(lambda sock, received: sock.sendall(sent), "--response-timeout",
                      "0.5", hold=True)
    sock = slow_reader(relay)
    sock.sendall(REQUEST)
    time.sleep(1.5)  # the browser reads nothing (a background tab): the server waits
    received = bytearray()
    while len(received) < len(sent):
        data = sock.recv(65536)
        if not data:
            break
        received += data
    assert bytes(received) == sent
    exchange = relay.exchanges(address(sock))[0]
    assert (exchange["outcome"], exchange["mistake"]) == ("complete", None)
    sock.close()


def test_requests_pipelined_behind_a_never_answered_one_are_recorded(behind):
    _, relay = behind(lambda sock, received: None, "--response-timeout", "0.3", hold=True)
    raw = relay.raw()
    second = b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n"
    raw.send(REQUEST + second)
    answer = raw.read_to_eof()
    assert answer.startswith(b"HTTP/1.1 504 ")
    exchanges = relay.exchanges(raw.address, count=2)
    assert [e["target"] for e in exchanges] == ["/", "/two"]
    assert exchanges[0]["mistake"] == "never_answered"
    assert exchanges[1]["status"] is None


def test_pipelined_requests_to_a_server_not_listening_get_one_502(free_port):
    relay = start_relay(f"127.0.0.1:{free_port}")
    try:
        raw = relay.raw()
        raw.send(REQUEST + b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n")
        answer = raw.read_to_eof()
        assert answer.count(b"HTTP/1.1 502 ") == 1
        exchanges = relay.exchanges(raw.address, count=2)
        assert [(e["target"], e["status"]) for e in exchanges] == [("/", 502), ("/two", None)]
    finally:
        relay.finish()


def test_a_browser_that_never_reads_is_closed_after_the_idle_timeout(behind):
    body = b"z" * 40_000_000
    sent = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    _, relay = behind(lambda sock, received: sock.sendall(sent), "--idle-timeout", "0.5",
                      hold=True)
    sock = slow_reader(relay)
    sock.sendall(REQUEST)
    closed = relay.connection_event("close", address(sock))
    assert closed["reason"] == "client not reading"
    sock.close()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_requests_piling_up_unanswered_do_not_grow_the_relay_without_bound(behind):
    def swallow(sock: socket.socket, received: bytes) -> None:
        while sock.recv(1 << 20):  # reads every byte, answers nothing
            pass

    _, relay = behind(swallow, "--response-timeout", "60")
    body = b"p" * 1_000_000
    post = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    before = rss_bytes(relay.proc.pid)
    raw = relay.raw()

    def send() -> None:
        try:
            for _ in range(300):  # 300 MB of whole requests, none answered
                raw.sock.sendall(post)
        except OSError:
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    sender.join(8)  # done, or held back by the relay (back-pressure: sendall times out)
    grown = rss_bytes(relay.proc.pid) - before
    raw.sock.close()
    assert grown < 64 * 2**20, f"the relay grew by {grown / 2**20:.0f} MiB"


POST_HEAD = b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"


@pytest.mark.parametrize(("sent", "status", "outcome", "mistake"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200,
     "complete", None),
    (b"", None, "server_closed", "closed_without_response"),
])
def test_a_server_that_answers_before_the_request_is_whole_is_recorded(
        behind, sent, status, outcome, mistake):
    # The tutorial's servers read once (recv(1024)) and answer: a body still coming
    # is not read. The answer is this request's, not bytes with no request waiting.
    _, relay = behind(lambda sock, received: sock.sendall(sent))
    raw = relay.raw()
    raw.send(POST_HEAD)  # the body never comes
    assert raw.read_to_eof() == sent
    exchange = relay.exchanges(raw.address)[0]
    assert (exchange["method"], exchange["target"]) == ("POST", "/form")
    assert decoded(exchange, "request") == POST_HEAD
    assert decoded(exchange, "response") == sent
    assert (exchange["status"], exchange["outcome"], exchange["mistake"]) == \
        (status, outcome, mistake)
    assert not [e for e in relay.events() if e["type"] == "stream"]
    raw.sock.close()


@pytest.mark.parametrize("to", ["tcp", "unix"])
def test_running_out_of_descriptors_or_a_bad_path_does_not_end_the_relay(free_port, tmp_path,
                                                                          to):
    # The relay's descriptors are fewer than its connections need (each takes two):
    # whichever of accept() or the server's socket() fails, the relay lives on.
    upstream = f"127.0.0.1:{free_port}" if to == "tcp" else f"unix:{tmp_path}/{'x' * 200}"
    for descriptors in (22, 23, 24, 25):  # both parities: which call runs out varies
        limit = (descriptors, descriptors)
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "henaserver", "relay", "--listen", "127.0.0.1:0",
             "--to", upstream], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda limit=limit: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
        try:
            assert proc.stdout is not None
            port = int(re.search(rb":(\d+)/", proc.stdout.readline())[1])  # type: ignore[index]
            socks = [socket.create_connection(("127.0.0.1", port), timeout=5)
                     for _ in range(12)]
            for sock in socks:
                sock.close()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(REQUEST)
                answer = read_all(sock)
            assert answer.startswith(b"HTTP/1.1 502 "), (descriptors, answer,
                                                         proc.stderr.read1())  # type: ignore[union-attr]
            assert proc.poll() is None
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


def test_an_answer_before_an_upload_ends_reaches_the_browser(behind):
    # A learner's server reads the head once, answers and closes with the upload
    # unread: its kernel resets the relay's connection. The answer read before the
    # reset still goes to the browser, and the relay's close does not reset the
    # browser (it lingers, reading what the browser still sends, as henaserver does).
    sent = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    _, relay = behind(lambda sock, received: sock.sendall(sent))
    body = b"b" * 2_000_000
    upload = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    for _ in range(5):
        raw = relay.raw()
        sender = threading.Thread(target=_send_quietly, args=(raw.sock, upload),
                                  daemon=True)
        sender.start()
        assert raw.read_to_eof() == sent
        sender.join(5)
        raw.sock.close()


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass  # the relay stops reading once it has closed: that is fine here
