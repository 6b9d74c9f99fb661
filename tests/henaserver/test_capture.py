"""Traffic capture (docs/events.md): every exchange recorded with the exact bytes that
crossed the socket, its connection and index, its outcome, and exact drop accounting."""

from __future__ import annotations

import base64
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from rawhttp import get
from support import BIG_SIZE, INDEX_CSS, ServerProcess, read_pipe_while

TIMES = ("accepted", "first_byte", "head_complete", "request_complete", "response_start",
         "response_end")


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def test_listening_event_comes_first(server: ServerProcess, docroot: Path) -> None:
    first = server.wait_for(lambda e: True, "any event")[0]
    assert first["type"] == "server.listening"
    assert first["v"] == 1 and isinstance(first["time"], float)
    assert (first["host"], first["port"]) == (server.host, server.port)
    assert first["url"] == f"http://{server.host}:{server.port}/"
    assert first["url"] in server.banner
    assert first["pid"] == server.proc.pid
    assert os.path.realpath(first["root"]) == os.path.realpath(docroot)
    assert first["body_cap"] == 65536


def test_exchange_holds_the_exact_bytes(server: ServerProcess) -> None:
    request = (b"GET /index.css?x=%41 HTTP/1.1\r\nuser-AGENT: Exact/1.0\r\nHOST: capture.test"
               b"\nX-Mixed-Endings: yes\r\naccept:   */*  \r\n\r\n")
    with server.raw() as conn:
        response = conn.request(request)
        assert response.body == INDEX_CSS
        opened = server.connection_event("open", conn.address)
        event = server.exchanges(conn.address)[0]
    assert b64(event["request_b64"]) == request
    assert event["request_length"] == len(request)
    assert event["request_truncated"] is False
    assert b64(event["response_b64"]) == bytes(conn.received) == response.raw
    assert event["response_length"] == len(response.raw)
    assert event["response_truncated"] is False
    assert (event["method"], event["target"], event["version"]) == (
        "GET", "/index.css?x=%41", "HTTP/1.1")
    assert (event["status"], event["outcome"], event["reason"]) == (200, "complete", None)
    assert (event["conn"], event["index"], event["client"]) == (opened["conn"], 0,
                                                                conn.address)
    times = [event["times"][key] for key in TIMES]
    assert times == sorted(times), event["times"]
    # docs/events.md: whole microseconds since the Unix epoch, as integers.
    assert all(isinstance(value, int) for value in times), event["times"]
    assert all(abs(value / 1e6 - event["time"]) < 60 for value in times), event["times"]


def test_keep_alive_exchanges_share_a_connection(server: ServerProcess) -> None:
    requests = [get("/index.css"), get("/missing"), get("/index.html", extra="X-N: 3\r\n")]
    with server.raw() as conn:
        first = conn.request(requests[0])
        conn.send(requests[1] + requests[2])  # pipelined
        second, third = conn.read_response(), conn.read_response()
        address = conn.address
    events = server.exchanges(address, count=3)
    assert [e["index"] for e in events] == [0, 1, 2]
    assert len({e["conn"] for e in events}) == 1
    assert [b64(e["request_b64"]) for e in events] == requests
    assert [b64(e["response_b64"]) for e in events] == [first.raw, second.raw, third.raw]
    assert [e["status"] for e in events] == [200, 404, 200]
    closed = server.connection_event("close", address)
    assert closed["conn"] == events[0]["conn"]
    assert closed["exchanges"] == 3
    assert closed["bytes_in"] == sum(map(len, requests))
    assert closed["bytes_out"] == len(first.raw) + len(second.raw) + len(third.raw)


def test_connection_ids_increase(server: ServerProcess) -> None:
    ids = []
    for _ in range(3):
        with server.raw() as conn:
            conn.request(get("/index.css"))
            ids.append(server.connection_event("open", conn.address)["conn"])
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_100_continue_is_recorded_in_the_response(server: ServerProcess) -> None:
    head = get("/index.css", extra="Expect: 100-continue\r\nContent-Length: 4\r\n")
    with server.raw() as conn:
        conn.send(head)
        assert conn.read_until(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.send(b"data")
        final = conn.read_response()
        event = server.exchanges(conn.address)[0]
    assert b64(event["request_b64"]) == head + b"data"
    assert b64(event["response_b64"]) == b"HTTP/1.1 100 Continue\r\n\r\n" + final.raw
    # response_length counts every byte written, the interim response included.
    assert event["response_length"] == len(conn.received)


def test_rejected_request(server: ServerProcess) -> None:
    request = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
    with server.raw() as conn:
        response = conn.request(request)
        assert response.status == 400
        conn.closed_by_server()
        event = server.exchanges(conn.address)[0]
    assert event["outcome"] == "rejected"
    assert event["status"] == 400
    assert "duplicate Host" in event["reason"]
    assert b64(event["request_b64"]) == request
    assert b64(event["response_b64"]) == response.raw


def test_rejected_request_line(server: ServerProcess) -> None:
    request = b"\x16\x03\x01 garbage\r\n\r\n"
    with server.raw() as conn:
        response = conn.request(request)
        event = server.exchanges(conn.address)[0]
    assert (event["outcome"], event["status"]) == ("rejected", 400)
    assert event["method"] is None
    assert b64(event["request_b64"]) == request
    assert b64(event["response_b64"]) == response.raw


def test_client_closed_mid_request(server: ServerProcess) -> None:
    partial = b"GET /index.css HTTP/1.1\r\nHost: x\r\nX-Unfinished"
    with server.raw() as conn:
        conn.send(partial)
        address = conn.address
    event = server.exchanges(address)[0]
    assert event["outcome"] == "client_closed"
    assert event["status"] is None
    assert b64(event["request_b64"]) == partial
    assert event["response_b64"] == "" and event["response_length"] == 0


def test_client_closed_mid_body(server: ServerProcess) -> None:
    partial = get("/index.css", extra="Content-Length: 100\r\n") + b"only some"
    with server.raw() as conn:
        conn.send(partial)
        address = conn.address
    event = server.exchanges(address)[0]
    assert event["outcome"] == "client_closed"
    assert b64(event["request_b64"]) == partial


def test_client_closed_mid_response(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/big.bin"))
        head = conn.read_until(b"\r\n\r\n")
        conn.read_exact(1000)
        address = conn.address
    event = server.exchanges(address)[0]
    assert event["outcome"] == "client_closed"
    assert event["status"] == 200
    assert b64(event["response_b64"]).startswith(head)
    assert len(head) + 1000 <= event["response_length"] < len(head) + BIG_SIZE


def test_clean_close_between_requests_is_not_an_exchange(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.request(get("/index.css"))
        address = conn.address
    closed = server.connection_event("close", address)
    assert closed["exchanges"] == 1
    events = [e for e in server.events() if e["type"] == "exchange" and e["client"] == address]
    assert len(events) == 1


def test_body_cap(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--body-cap", "1000")
    assert server.wait_for(lambda e: True, "listening")[0]["body_cap"] == 1000
    upload = bytes(range(256)) * 20
    request = get("/index.css", extra=f"Content-Length: {len(upload)}\r\n") + upload
    with server.raw(timeout=20) as conn:
        small = conn.request(request)
        big = conn.request(get("/big.bin"))
        events = server.exchanges(conn.address, count=2)
    head_length = len(request) - len(upload)
    assert b64(events[0]["request_b64"]) == request[:head_length + 1000]
    assert events[0]["request_length"] == len(request)
    assert events[0]["request_truncated"] is True
    assert b64(events[0]["response_b64"]) == small.raw  # 69-byte body: under the cap
    assert events[0]["response_truncated"] is False
    assert b64(events[1]["response_b64"]) == big.head + big.body[:1000]
    assert events[1]["response_length"] == len(big.head) + BIG_SIZE
    assert events[1]["response_truncated"] is True


def test_timed_out_request(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--header-timeout", "1", "--idle-timeout", "1")
    partial = b"GET /index.css HTTP/1.1\r\nHost: x\r\n"
    with server.raw() as conn:
        conn.send(partial)
        response = conn.read_response()
        assert response.status == 408
        assert conn.closed_by_server() == b""
        event = server.exchanges(conn.address)[0]
    assert (event["outcome"], event["status"]) == ("timed_out", 408)
    assert b64(event["request_b64"]) == partial
    assert b64(event["response_b64"]) == response.raw


def test_idle_close_is_recorded(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--idle-timeout", "1")
    with server.raw() as conn:
        conn.request(get("/index.css"))
        assert conn.closed_by_server(timeout=6) == b""
        closed = server.connection_event("close", conn.address)
        exchanges = server.exchanges(conn.address)
    assert "idle" in closed["reason"]
    assert closed["exchanges"] == 1 and len(exchanges) == 1


@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_stats_and_stopping(start_server, docroot: Path, sig: int, name: str) -> None:
    server = start_server(docroot)
    sent = received = 0
    with server.raw() as conn:
        for request in (get("/index.css"), get("/nope")):
            response = conn.request(request)
            sent, received = sent + len(request), received + len(response.raw)
    with server.raw() as conn:
        request = b"GET / HTTP/1.1\r\n\r\n"
        response = conn.request(request)
        assert response.status == 400
        sent, received = sent + len(request), received + len(response.raw)
        conn.closed_by_server()
    with server.raw() as idle:
        idle.request(get("/index.html"))
        sent += len(get("/index.html"))
        received += len(idle.received)
        assert server.stop(sig) == 0
        assert idle.closed_by_server() == b""
    events = server.events()
    assert events[0]["type"] == "server.listening"
    assert events[-1]["type"] == "server.stopping"
    assert events[-1]["reason"] == name
    stats = [e for e in events if e["type"] == "server.stats"]
    assert stats and events.index(stats[-1]) == len(events) - 2
    final = stats[-1]
    assert (final["connections"], final["exchanges"], final["errors"]) == (3, 4, 2)
    assert (final["bytes_in"], final["bytes_out"], final["dropped"]) == (sent, received, 0)
    # Each exchange carries its number: the same count as server.stats, in order.
    assert [e["number"] for e in events if e["type"] == "exchange"] == [1, 2, 3, 4]
    closes = [e for e in events if e["type"] == "connection.close"]
    assert len(closes) == 3
    assert "stop" in closes[-1]["reason"]


def test_dropped_events_are_counted_exactly(start_server, docroot: Path) -> None:
    # The event pipe is not read while traffic flows: the writer blocks, the queue (5,000
    # bytes: a few events) fills, and later events are dropped and counted. Serving must
    # not wait.
    read_end, write_end = os.pipe()
    try:
        server = start_server(docroot, "--events-fd", str(write_end), "--event-queue", "5000",
                              "--quiet", events=False, pass_fds=(write_end,))
    finally:
        os.close(write_end)
    count = 300
    with server.raw(timeout=20) as conn:
        conn.send(b"".join(get(f"/index.css?n={n}") for n in range(count)))
        responses = [conn.read_response() for _ in range(count)]
    assert all(r.status == 200 and r.body == INDEX_CSS for r in responses)

    returncodes: list[int] = []
    lines = read_pipe_while(read_end, lambda: returncodes.append(server.stop())).split(b"\n")
    assert returncodes == [0]
    assert lines[-1] == b"", "the stream must end with a complete line"
    events: list[dict[str, Any]] = [json.loads(line) for line in lines[:-1]]

    assert events[0]["type"] == "server.listening"
    drops = [e for e in events if e["type"] == "events.dropped"]
    final = [e for e in events if e["type"] == "server.stats"][-1]
    assert drops, "nothing was dropped: the test did not fill the queue"
    assert sum(e["count"] for e in drops) == drops[-1]["total"] == final["dropped"]
    assert [e["total"] for e in drops] == sorted(e["total"] for e in drops)
    assert (final["connections"], final["exchanges"]) == (1, count)
    traffic = [e for e in events if e["type"] in ("connection.open", "exchange",
                                                  "connection.close")]
    # Generated: one open, one exchange per request, one close. Each is either written
    # or counted as dropped, never both and never neither.
    assert len(traffic) + final["dropped"] == 1 + count + 1
    indexes = [e["index"] for e in traffic if e["type"] == "exchange"]
    assert indexes == sorted(set(indexes))
    assert all(0 <= index < count for index in indexes)
    # The numbers say exactly which exchanges were lost: request n is exchange n + 1.
    numbers = [e["number"] for e in traffic if e["type"] == "exchange"]
    assert numbers == [index + 1 for index in indexes]
    assert len(numbers) < count
    # docs/events.md: server.stopping is the last event, and the last server.stats
    # (just before it) repeats the final drop total.
    assert [e["type"] for e in events[-2:]] == ["server.stats", "server.stopping"], (
        [e["type"] for e in events[-4:]])


def test_events_written_to_stdout(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--events", "-", events=False, wait=False)
    line = server.stdout.queue.get(timeout=15)
    assert line is not None, server.stderr.text
    listening = json.loads(line)
    assert listening["type"] == "server.listening"
    server.host, server.port = listening["host"], listening["port"]
    with server.raw() as conn:
        response = conn.request(get("/index.css"))
    assert server.stop() == 0
    events = [json.loads(text) for text in server.stdout.lines]  # only JSON on stdout
    exchanges = [e for e in events if e["type"] == "exchange"]
    assert len(exchanges) == 1 and b64(exchanges[0]["response_b64"]) == response.raw
    assert events[-1]["type"] == "server.stopping"
    assert f"http://{server.host}:{server.port}/" in server.stderr.text


def test_every_event_has_the_common_keys(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.request(get("/index.html"))
        server.connection_event("open", conn.address)
    known = {"server.listening", "server.stopping", "server.stats", "connection.open",
             "connection.close", "exchange", "events.dropped"}
    for event in server.events():
        assert event["v"] == 1
        assert event["type"] in known
        assert isinstance(event["time"], float)


def test_the_capture_queue_is_bounded_by_bytes_not_events() -> None:
    # The writer is kept asleep (it wakes only when told, and we do not tell it), so
    # nothing leaves the queue: it holds what fits in its bytes, far fewer big events
    # than small ones, and counts the rest as dropped.
    from henaserver.capture import EVENT_OVERHEAD, EventSink, Exchange

    def held(body: bytes) -> int:
        read_end, write_end = os.pipe()
        stream = os.fdopen(write_end, "wb", buffering=0)
        sink = EventSink(stream, 100_000)
        sink._writer_idle = False  # emit() wakes only an idle writer
        for n in range(500):
            sink.emit(Exchange(1, n, "c", "GET", "/", "HTTP/1.1", 200, "complete", None,
                               b"", 0, False, body, len(body), False, number=n + 1))
        os.close(read_end)  # the writer's first write fails: it ends
        sink.close(timeout=5)
        stream.close()
        return 500 - sink.dropped_total

    small, big = held(b"x" * 100), held(b"x" * 30_000)
    assert small == 100_000 // (EVENT_OVERHEAD + 100 * 4 // 3)
    assert big == 100_000 // (EVENT_OVERHEAD + 30_000 * 4 // 3) == 2


def test_the_writers_own_batch_counts_in_the_bytes_bound() -> None:
    # Nobody reads the pipe, so the writer's write blocks (the pipe's buffer is full)
    # with the batch it took still in its hands. That batch is memory too: until it is
    # written it must count in the queue's bytes, or the queue refills behind it and a
    # stalled reader makes the server hold twice the bound (or 256 events' worth).
    from testkit.waiting import wait_until

    from henaserver.capture import EventSink, Exchange, queued_size

    body = b"x" * 3000
    event = Exchange(1, 0, "c", "GET", "/", "HTTP/1.1", 200, "complete", None, b"", 0,
                     False, body, len(body), False)
    capacity = 45 * queued_size(event)
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "wb", buffering=0)
    sink = EventSink(stream, capacity)
    emitted = 0

    def emit_until_a_drop() -> None:
        nonlocal emitted
        dropped = sink.dropped_total
        while sink.dropped_total == dropped:
            sink.emit(event._replace(number=emitted + 1))
            emitted += 1

    emit_until_a_drop()  # the queue is full
    # The writer takes everything queued (less than one write's worth) and blocks.
    wait_until(lambda: not sink._queue, 10, "the writer to take the queued events")
    emit_until_a_drop()
    accepted = emitted - sink.dropped_total
    assert accepted * queued_size(event) <= capacity

    def stop() -> None:
        sink.close(timeout=10)
        stream.close()

    lines = [json.loads(line) for line in read_pipe_while(read_end, stop).splitlines()]
    # Every event accepted was written whole, and the drops were reported.
    assert len([e for e in lines if e["type"] == "exchange"]) == accepted
    assert lines[-1] == {**lines[-1], "type": "events.dropped",
                         "total": sink.dropped_total}
