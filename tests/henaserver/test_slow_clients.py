"""Slow clients cannot hold the server's slots (henaserver/pace.py): a request keeps a
pace or gets 408, and a full server makes room for a newcomer by closing the connection
that has waited on its client the longest, never one the server owes an answer or an
upload arriving at a fair rate.

Real server processes and real sockets; the pure rules are tested from tables at the end.
The figures under load (slowhttptest and a reconnecting slowloris at 350 and 2,500
connections) are bench/slow_clients.py's, in docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rawhttp import RawConnection, get
from support import BIG_SIZE, INDEX_CSS, ServerProcess
from testkit.services import unavailable
from testkit.waiting import wait_until

from henaserver.connection import Connection
from henaserver.exchange import ExchangeRecord
from henaserver.limits import Limits
from henaserver.modes import FULL, build_handler
from henaserver.pace import PROVEN_AFTER, RecentRate, room_rank, too_slow
from henaserver.server import Server

MADE_ROOM = "closed to make room"


def opened(server: ServerProcess, conn: RawConnection) -> dict[str, Any]:
    return server.connection_event("open", conn.address)


def closed_events(server: ServerProcess) -> dict[str, str]:
    """client ADDRESS:PORT -> why its connection closed, for those closed so far."""
    clients = {e["conn"]: e["client"] for e in server.events()
               if e["type"] == "connection.open"}
    return {clients[e["conn"]]: e["reason"] for e in server.events()
            if e["type"] == "connection.close"}


def drip(conn: RawConnection, data: bytes, every: float) -> bytes:
    """Send ``data`` one piece per ``every`` seconds (each piece in time for any per-read
    timeout) until the server answers; return what it answered first."""
    for byte in data:
        readable, _, _ = select.select([conn.sock], [], [], every)
        if readable:
            break
        conn.send(bytes([byte]))
    else:
        pytest.fail("the server was still waiting when the whole drip was sent")
    return conn.read_until(b"\r\n\r\n")


# --- a request keeps a pace --------------------------------------------------------------

HEAD_START = b"GET /index.css HTTP/1.1\r\nHost: x\r\n"
PACES = {
    # 50 bytes a second: every read far inside any per-read timeout, and above the
    # minimum rate asked; only the deadline for the whole head ends it.
    "whole-head deadline": (("--header-timeout", "2", "--min-rate", "10"), HEAD_START,
                            b"X-Drip: " + b"d" * 1000, 0.02, "within 2 seconds"),
    # 10 bytes a second, long before its 60 s deadline.
    "head below the rate": (("--header-timeout", "60", "--min-rate", "100"), HEAD_START,
                            b"X-Drip: " + b"d" * 300, 0.1, "below the minimum of 100"),
    # A body has no deadline of its own, but 10 bytes a second is below 1,000.
    "body below the rate": (("--min-rate", "1000"),
                            b"POST /index.css HTTP/1.1\r\nHost: x\r\nContent-Length: 5000"
                            b"\r\n\r\n", b"b" * 5000, 0.1, "body arrived at"),
}


@pytest.mark.parametrize("case", PACES)
def test_a_request_that_does_not_keep_the_pace_gets_408(start_server, docroot: Path,
                                                         case: str) -> None:
    options, start, dripped, every, reason = PACES[case]
    server = start_server(docroot, *options, "--rate-grace", "1")
    with server.raw() as conn:
        conn.send(start)
        head = drip(conn, dripped, every)
        assert head.startswith(b"HTTP/1.1 408 "), head
    event = server.exchanges(conn.address)[0]
    assert event["outcome"] == "timed_out"
    assert reason in event["reason"], event["reason"]


def test_a_pipelined_head_is_timed_from_when_the_server_can_read_it(
        start_server, docroot: Path) -> None:
    # The next request's head had begun while the server was still sending the answer
    # before it, and its deadline counted from then: a client slow to read a download
    # got 408 for a head the server had not even looked at yet.
    server = start_server(docroot, "--header-timeout", "1", "--rate-grace", "10")
    with server.raw(timeout=10) as conn:
        conn.send(get("/big.bin") + b"GET /index.css HTTP/1.1\r\n")
        time.sleep(1.5)  # the download unread for longer than the head's deadline
        assert conn.read_response().status == 200
        time.sleep(0.6)  # then the rest of the head, within a second of the answer
        conn.send(b"Host: x\r\n\r\n")
        response = conn.read_response()
    assert response.status == 200, response.head
    assert response.body == INDEX_CSS


# --- a full server makes room ---------------------------------------------------------

def test_full_server_closes_the_oldest_unfinished_request_for_a_newcomer(
        start_server, docroot: Path) -> None:
    server = start_server(docroot, "--max-connections", "3")
    answered, slow, slower = server.raw(), server.raw(), server.raw()
    try:
        # Idle the longest, but answered before: a real client, closed only if no
        # slow request is there to close.
        assert answered.request(get("/index.css")).status == 200
        slow.send(b"GET /index.css HTTP/1.1\r\nHost: x\r\n")  # a head still arriving
        opened(server, slow)
        slower.send(b"GET /index.css HTTP/1.1\r\n")
        opened(server, slower)
        with server.raw() as newcomer:
            response = newcomer.request(get("/index.css"))
            assert response.status == 200 and response.body == INDEX_CSS
        assert slow.closed_by_server() == b""
        assert server.connection_event("close", slow.address)["reason"] == MADE_ROOM
        exchange = server.exchanges(slow.address)[0]
        assert exchange["outcome"] == "timed_out"
        assert slower.address not in closed_events(server)
        assert answered.address not in closed_events(server)
        slower.send(b"Host: x\r\n\r\n")  # the other slow one may still finish
        assert slower.read_response().body == INDEX_CSS
    finally:
        for conn in (answered, slow, slower):
            conn.close()


def test_requests_in_progress_are_lined_up_by_their_first_byte(start_server,
                                                                docroot: Path) -> None:
    # An upload too young to be proven ranks with the slow heads; among them, the one
    # whose request began first goes first. By the time each connection was accepted,
    # the upload (connected first, then silent a moment) was closed before a slowloris
    # that had been dripping all along.
    server = start_server(docroot, "--max-connections", "2")
    upload, slow = server.raw(), server.raw()
    try:
        opened(server, upload)
        slow.send(b"GET /index.css HTTP/1.1\r\n")
        opened(server, slow)
        upload.send(b"POST /index.css HTTP/1.1\r\nHost: x\r\nContent-Length: 100000"
                    b"\r\n\r\n" + b"u" * 2000)
        # Nothing answers a body still arriving; the wait lets its bytes reach the
        # server before the newcomer does (no event says they have).
        assert upload.unsolicited(0.2) == b""
        with server.raw() as newcomer:
            assert newcomer.request(get("/index.css")).body == INDEX_CSS
        assert server.connection_event("close", slow.address)["reason"] == MADE_ROOM
        assert upload.address not in closed_events(server)
    finally:
        upload.close()
        slow.close()


def test_full_of_idle_keep_alive_closes_the_longest_idle(start_server,
                                                         docroot: Path) -> None:
    server = start_server(docroot, "--max-connections", "3", "--idle-timeout", "60")
    clients = [server.raw() for _ in range(3)]
    try:
        for conn in clients:
            assert conn.request(get("/index.css")).status == 200
        # The first becomes the most recently active: the second is idle the longest.
        assert clients[0].request(get("/index.css")).status == 200
        with server.raw() as newcomer:
            assert newcomer.request(get("/index.css")).body == INDEX_CSS
        assert clients[1].closed_by_server() == b""
        assert server.connection_event("close", clients[1].address)["reason"] == MADE_ROOM
        for kept in (clients[0], clients[2]):
            assert kept.request(get("/index.css")).body == INDEX_CSS
    finally:
        for conn in clients:
            conn.close()


def test_a_connection_owed_an_answer_is_never_closed_to_make_room(
        start_server, docroot: Path) -> None:
    server = start_server(docroot, "--max-connections", "2", "--idle-timeout", "60")
    owed, idle = server.raw(timeout=10), server.raw()
    newcomer = None
    try:
        # 5 MiB it does not read yet (the head only): the rest stays queued.
        owed.send(get("/big.bin"))
        assert owed.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200 ")
        assert idle.request(get("/index.css")).status == 200
        newcomer = server.raw(timeout=10)
        assert newcomer.request(get("/index.css")).body == INDEX_CSS
        assert server.connection_event("close", idle.address)["reason"] == MADE_ROOM
        # Now both slots are owed an answer: the next newcomer is refused after all.
        newcomer.send(get("/big.bin"))
        assert newcomer.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200 ")
        with server.raw() as refused:
            assert refused.read_response().status == 503
        assert len(owed.read_exact(BIG_SIZE)) == BIG_SIZE
        assert owed.address not in closed_events(server)
    finally:
        owed.close()
        idle.close()
        if newcomer is not None:
            newcomer.close()


def test_upload_at_a_fair_rate_is_neither_cut_nor_closed_for_room(
        start_server, docroot: Path) -> None:
    # 400 bytes a second for 3 s, past the 1 s grace: above the 100 bytes/s asked.
    server = start_server(docroot, "--max-connections", "2", "--min-rate", "100",
                          "--rate-grace", "1")
    body = b"u" * 1200
    upload, silent = server.raw(), server.raw()
    try:
        upload.send(b"POST /index.css HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
        opened(server, silent)  # has sent nothing yet: first in line
        for i in range(0, len(body), 40):
            upload.send(body[i:i + 40])
            if i == 400:  # in the middle of the upload, the server is full
                with server.raw() as newcomer:
                    assert newcomer.request(get("/index.css")).body == INDEX_CSS
                assert server.connection_event("close", silent.address)["reason"] == MADE_ROOM
            time.sleep(0.1)  # the upload's own pace, the point of the test
        answer = upload.read_response()
        assert answer.status != 408, answer.head
        exchange = server.exchanges(upload.address)[0]
        assert exchange["outcome"] != "timed_out"
        assert exchange["request_length"] > len(body)
        assert upload.address not in closed_events(server)
    finally:
        upload.close()
        silent.close()


def stalled_download(server: ServerProcess, path: str = "/big.bin") -> socket.socket:
    """A client that asks for a big file and does not read it: a small receive buffer,
    so the server's answer stays queued (the server owes it; never closed for room)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((server.host, server.port))
    sock.sendall(get(path))
    assert sock.recv(12).startswith(b"HTTP/1.1 200"), "no answer to the download"
    return sock


def test_downloads_in_front_do_not_shield_the_slow_ones_behind(start_server,
                                                               docroot: Path) -> None:
    # The connections owed an answer were never candidates and never left the front of
    # the line; room was looked for among the first 64 only, so 64 unread downloads
    # shielded every slowloris behind them: a normal client got 503, every time.
    server = start_server(docroot, "--max-connections", "70")
    downloads: list[socket.socket] = []
    slow: list[RawConnection] = []
    try:
        downloads = [stalled_download(server) for _ in range(64)]
        slow = [server.raw() for _ in range(6)]
        for conn in slow:
            conn.send(b"GET /index.css HTTP/1.1\r\nHost: x\r\n")  # heads still arriving
            opened(server, conn)
        with server.raw() as newcomer:
            response = newcomer.request(get("/index.css"))
            assert response.status == 200, response.head
        # The slowloris that began first made room; the downloads are all still there.
        assert server.connection_event("close", slow[0].address)["reason"] == MADE_ROOM
        assert not {s.getsockname() for s in downloads} & set(closed_events(server))
    finally:
        for sock in downloads:
            sock.close()
        for conn in slow:
            conn.close()


def test_a_burst_then_silence_does_not_hold_a_slot(start_server, docroot: Path) -> None:
    # Only the average since the first byte was checked: 100 KiB at once, then nothing,
    # held the slot for 100 s at 1 KiB/s (1 MiB: 17 minutes), and kept it from being
    # closed to make room all that time. The rate is now measured over the last
    # --rate-grace to 2 x --rate-grace seconds.
    # A grace of 3 s: stalled (closable) from ~3.5 s, 408 at ~6.5 s; room to see both.
    server = start_server(docroot, "--max-connections", "1", "--rate-grace", "3")
    upload = server.raw(timeout=20)
    try:
        upload.send(b"POST /index.css HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: %d\r\n\r\n" % (1024 * 1024) + b"b" * 100 * 1024)
        opened(server, upload)
        time.sleep(PROVEN_AFTER + 0.1)  # the rule's own time: an upload this old and fast
        with server.raw() as newcomer:  # is not closed for room
            assert newcomer.request(get("/index.css")).status == 503

        # Once it has stalled it may be closed for room. The half-second sweep decides
        # the moment, so ask until answered: each refused attempt is a 503 at once.
        def newcomer_answered() -> bool:
            with server.raw() as newcomer:
                return newcomer.request(get("/index.css")).status == 200
        wait_until(newcomer_answered, 12, "a newcomer answered while the upload stalls",
                   interval=0.1)
        reason = server.connection_event("close", upload.address)["reason"]
        assert reason == MADE_ROOM, reason
        exchange = server.exchanges(upload.address)[0]
        assert exchange["outcome"] == "timed_out"
    finally:
        upload.close()


def test_a_stalled_body_gets_408_in_bounded_time(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--rate-grace", "1")
    with server.raw(timeout=6) as upload:  # the old average rule: 100 s
        upload.send(b"POST /index.css HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: %d\r\n\r\n" % (1024 * 1024) + b"b" * 100 * 1024)
        head = upload.read_until(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), head
    assert "below the minimum" in server.exchanges(upload.address)[0]["reason"]


def test_a_refused_client_lingering_does_not_make_a_newcomer_refused(
        start_server, docroot: Path) -> None:
    # The count of connections included one lingering after its 503: the server closed
    # an idle connection to make room and then refused the newcomer all the same.
    server = start_server(docroot, "--max-connections", "3", "--min-rate", "100",
                          "--rate-grace", "1", "--idle-timeout", "60")
    first, second = stalled_download(server), stalled_download(server)
    upload = server.raw()
    refused = None
    try:
        body = b"u" * 600
        upload.send(b"POST /index.css HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(0, 400, 40):  # 400 bytes a second for 1 s: a proven upload
            upload.send(body[i:i + 40])
            time.sleep(0.1)  # the upload's own pace, the point of the test
        refused = server.raw()  # nobody may be closed: 503, and it keeps its socket open
        assert refused.read_response().status == 503
        upload.send(body[400:])
        assert upload.read_response().status == 405  # now an idle keep-alive connection
        with server.raw() as newcomer:
            assert newcomer.request(get("/index.css")).status == 200
        assert server.connection_event("close", upload.address)["reason"] == MADE_ROOM
    finally:
        for sock in (first, second):
            sock.close()
        upload.close()
        if refused is not None:
            refused.close()


# --- a real slowloris -------------------------------------------------------------------

def test_slowhttptest_cannot_keep_a_normal_client_out(start_server, docroot: Path) -> None:
    binary = shutil.which("slowhttptest")
    if binary is None:
        unavailable("slowhttptest", "not installed (apt-get install slowhttptest)")
    server = start_server(docroot, "--max-connections", "20")
    attack = subprocess.Popen(
        [binary, "-H", "-c", "60", "-r", "200", "-i", "1", "-x", "10", "-p", "2", "-l", "8",
         "-u", f"http://127.0.0.1:{server.port}/index.html"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        # Full: 20 slowloris connections held and more arriving.
        server.wait_for(lambda e: e["type"] == "connection.open", "slowloris connections",
                        timeout=10, count=25)
        answered = 0
        for _ in range(10):
            with server.raw() as client:
                client.send(get("/index.css"))
                if client.read_response().status == 200:
                    answered += 1
        assert answered == 10, f"{answered} of 10 answered while slowhttptest ran"
        made_room = [e for e in server.events()
                     if e["type"] == "connection.close" and e["reason"] == MADE_ROOM]
        assert made_room, "the normal requests were answered without the server full"
    finally:
        attack.terminate()
        attack.wait(10)


# --- the rules, from tables ---------------------------------------------------------------

LIMITS = Limits(header_timeout=10, min_rate=100, rate_grace=2)


def recent(first_byte: float, *marks: tuple[float, int]) -> RecentRate:
    """A RecentRate as the sweeps would have left it: its marks moved on at ``marks``."""
    rate = RecentRate(first_byte)
    for at, received in marks:
        rate.older, rate.newer = rate.newer, (at, received)
    return rate


@pytest.mark.parametrize("head_complete,received,elapsed,marks,cut", [
    (None, 50, 1.0, (), None),             # within the grace: any pace
    (None, 5000, 9.9, (), None),           # a big head at a good pace, before the deadline
    (None, 5000, 10.1, (), "within 10"),   # the whole-head deadline, whatever the pace
    (None, 150, 3.0, (), "head arrived"),  # 50 bytes/s after the grace
    (0.5, 100, 3.0, (), "body arrived"),   # a body at 33 bytes/s
    (0.5, 100_000, 600.0, ((594.0, 98_000), (598.0, 99_500)), None),  # long, fair: no deadline
    # 100 KB at once, then nothing: fair on average since the first byte, but not lately.
    (0.5, 100_000, 6.0, ((2.0, 100_000), (4.0, 100_000)), "over the last 4.0 seconds"),
])
def test_too_slow(head_complete: float | None, received: int, elapsed: float,
                  marks: tuple[tuple[float, int], ...], cut: str | None) -> None:
    request = ExchangeRecord(0, first_byte=0.0, head_complete=head_complete)
    why = too_slow(request, received, recent(0.0, *marks), elapsed, LIMITS)
    assert (why is None) == (cut is None), why
    assert cut is None or cut in str(why)


def test_recent_rate_slides_every_grace() -> None:
    rate = RecentRate(0.0)
    rate.slide(500, 1.0, 2.0)  # younger than the grace: nothing moves
    assert rate.older == rate.newer == (0.0, 0)
    rate.slide(900, 2.5, 2.0)
    assert (rate.older, rate.newer) == ((0.0, 0), (2.5, 900))
    rate.slide(1000, 4.5, 2.0)
    assert (rate.older, rate.newer) == ((2.5, 900), (4.5, 1000))


@pytest.mark.parametrize("facts,rank", [
    ({"busy": True}, None),                                          # owed an answer
    ({"request": None, "answered_before": True}, 1),                 # idle keep-alive
    ({"request": None, "answered_before": False}, 0),                # never sent a byte
    ({"request": (8.0, None)}, 0),                                   # a head arriving
    ({"request": (8.0, 9.0), "received": 500}, None),                # a fair body
    ({"request": (8.0, 9.0), "received": 50}, 0),                    # a slow body
    ({"request": (9.9, 9.9), "received": 500}, 0),                   # not proven yet
    # A burst, then nothing since the newer mark a second ago: fair since the older
    # one, but stalled now.
    ({"request": (8.0, 8.0), "received": 500, "marks": ((9.0, 500),)}, 0),
])
def test_room_rank(facts: dict[str, Any], rank: int | None) -> None:
    given = {"busy": False, "answered_before": True, "request": None, "received": 0,
             **facts}
    marks = given.pop("marks", ())
    given["rate"] = None
    if given["request"] is not None:
        first_byte, head_complete = given["request"]
        given["request"] = ExchangeRecord(0, first_byte=first_byte,
                                          head_complete=head_complete)
        given["rate"] = recent(first_byte, *marks)
    assert room_rank(**given, now=10.0, limits=LIMITS) == rank


def test_closed_connections_are_freed_without_the_cycle_collector(tmp_path: Path) -> None:
    # A connection that ends in a reference cycle waits for the cyclic GC, whose full
    # passes over thousands of connections stalled the loop for 150-600 ms under a
    # reconnecting flood (bench/slow_clients.py). In-process, to see the garbage.
    (tmp_path / "index.html").write_bytes(b"hi")
    limits = Limits(max_connections=4)
    server = Server(build_handler(FULL, str(tmp_path), limits), limits, root=str(tmp_path))
    server.bind("127.0.0.1", 0)
    loop = threading.Thread(target=server.serve, name="henaserver loop")
    loop.start()
    gc.collect()
    gc.disable()
    try:
        clients = []
        for _ in range(12):  # slow heads, answered ones, and some closed to make room
            with socket.create_connection(server.address, timeout=5) as answered:
                answered.sendall(get("/index.html") + b"GET / HTTP/1.1\r\nHost: x\r\n")
                assert answered.recv(1000).startswith(b"HTTP/1.1 200 ")
            slow = socket.create_connection(server.address, timeout=5)
            slow.sendall(b"GET / HTTP/1.1\r\n")
            clients.append(slow)
        for slow in clients:
            slow.close()
        wait_until(lambda: not server.connections, 5, "every connection closed")
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, Connection)]
        assert not left, f"{len(left)} closed connections were cyclic garbage"
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        server.stop("SIGTERM")
        loop.join(10)
