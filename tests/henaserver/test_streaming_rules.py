"""Rules that send their answer over time (henaserver/paced.py), against a real server
process: a delay, a drip, chunked with trailers, server-sent events; each piece is on
the wire as it leaves and announced by an ``exchange.progress`` event (docs/events.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from rawhttp import RawConnection
from support import INDEX_CSS

REQUEST = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
SSE_HEAD = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n\r\n")
RULES = {"rules": [
    {"path": "/late", "delay_ms": 300,
     "response": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlater"},
    {"path": "/drip", "send": "drip", "every_ms": 50,
     "response": "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\none\ntwo\nthree\n"},
    {"path": "/chunks", "send": "chunked", "every_ms": 50,
     "response": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: Server-Timing\r\n"
                 "Server-Timing: total;dur=100\r\n\r\nHello, \nworld!\n"},
    {"path": "/events", "send": "events", "every_ms": 50,
     "response": SSE_HEAD + "data: one\n\ndata: two\n\n"},
    {"path": "/forever", "send": "events", "every_ms": 5000,
     "response": SSE_HEAD + "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n"},
]}


def serve(docroot: Path, start_server: Any, tmp_path: Path) -> Any:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    return start_server(docroot, "--rules", str(rules))


def ask(server: Any, path: str) -> RawConnection:
    """A connection of its own that asked for ``path`` (its ``address`` names it in the
    server's events)."""
    conn = server.raw(timeout=10)
    conn.send(REQUEST % path.encode())
    return conn


def progress(server: Any, conn: int, count: int) -> list[dict[str, Any]]:
    return server.wait_for(lambda e: e["type"] == "exchange.progress" and e["conn"] == conn,
                           "exchange.progress", count=count)


def test_a_delayed_answer_waits_then_comes_whole(docroot, start_server, tmp_path) -> None:
    server = serve(docroot, start_server, tmp_path)
    client = ask(server, "late")
    conn = server.connection_event("open", client.address)["conn"]
    first = progress(server, conn, 1)[0]  # announced before its first byte
    assert (first["sent"], first["data_b64"], first["target"]) == (0, "", "/late")
    assert client.read_until(b"later").endswith(b"\r\n\r\nlater")
    exchange = server.exchanges(client.address)[0]
    times = exchange["times"]
    # The server's own clock: the answer began no sooner than the delay asked.
    assert times["response_start"] - times["request_complete"] >= 300_000
    assert exchange["status"] == 200 and exchange["outcome"] == "complete"
    client.send(REQUEST % b"index.css")  # it framed itself: the connection is kept
    client.read_until(INDEX_CSS)  # (an EOFError if the server closed instead)


def test_a_drip_goes_out_a_line_at_a_time_each_piece_announced(
        docroot, start_server, tmp_path) -> None:
    server = serve(docroot, start_server, tmp_path)
    client = ask(server, "drip")
    data = client.read_until(b"three\n")
    conn = server.connection_event("open", client.address)["conn"]
    exchange = server.exchanges(client.address)[0]
    events = progress(server, conn, 4)  # queued, then the head, "one", "two"
    assert [e["sent"] for e in events] == [0, len(data) - 14, len(data) - 10, len(data) - 6]
    # Each piece's bytes, at its offset: together they are the response as it grew.
    grown = b""
    for event in events:
        assert event["offset"] == len(grown)
        grown += base64.b64decode(event["data_b64"])
    assert grown == data[:-6]
    assert base64.b64decode(exchange["response_b64"]) == data
    assert server.events().index(events[-1]) < server.events().index(exchange)


def test_chunked_with_a_trailer(docroot, start_server, tmp_path) -> None:
    server = serve(docroot, start_server, tmp_path)
    client = ask(server, "chunks")
    data = client.read_until(b"0\r\nServer-Timing: total;dur=100\r\n\r\n")
    assert data == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: Server-Timing"
                    b"\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nHello, \n\r\n7\r\nworld!\n"
                    b"\r\n0\r\nServer-Timing: total;dur=100\r\n\r\n")
    assert server.exchanges(client.address)[0]["outcome"] == "complete"
    client.send(REQUEST % b"index.css")  # chunked frames itself: kept alive
    client.read_until(INDEX_CSS)


def test_server_sent_events_one_at_a_time_then_close(docroot, start_server, tmp_path) -> None:
    server = serve(docroot, start_server, tmp_path)
    client = ask(server, "events")
    data = client.read_until(b"data: two\n\n")
    assert data == SSE_HEAD.encode() + b"data: one\n\ndata: two\n\n"
    assert client.closed_by_server() == b""  # no length: the end of the stream is the close
    conn = server.connection_event("open", client.address)["conn"]
    pieces = [base64.b64decode(e["data_b64"]) for e in progress(server, conn, 3)]
    assert pieces == [b"", SSE_HEAD.encode(), b"data: one\n\n"]


def test_others_are_served_while_a_stream_waits(docroot, start_server, tmp_path) -> None:
    server = serve(docroot, start_server, tmp_path)
    client = ask(server, "forever")
    client.read_until(b"data: 1\n\n")
    for _ in range(3):  # nothing sleeps: the one thread serves everyone meanwhile
        assert server.fetch("/index.css")[1] == INDEX_CSS
    assert not [e for e in server.events() if e["type"] == "exchange"
                and e["client"] == client.address]  # the stream is 20 s long: not over yet
    client.close()
