"""The traffic websocket with WebsocketCommunicator against the real ASGI application,
fed by real sandboxes (henaserver children of this process) answering real requests.

Async tests use ``transaction=True``: the ingest writer thread and the async ORM run
on other threads, which must see committed rows (NOTES.md).
"""

import asyncio
import os
import signal
import socket
import urllib.error
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from testkit.waiting import wait_until

from playground.asgi import application
from playground.models import Exchange
from playground.sandboxes import presence
from playground.traffic.ingest import ingestor
from playground.traffic.live import group_name

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
              pytest.mark.usefixtures("fresh_layer")]

ORIGIN = b"http://testserver"


class Browser:
    """A session that owns sandboxes (Django's test client) plus its websockets."""

    def __init__(self):
        self.client = Client()

    async def create(self, port: int, start: bool = True) -> dict:
        response = await sync_to_async(self.client.post)(
            "/api/sandboxes/", {"name": "t", "port": port}, content_type="application/json")
        assert response.status_code == 201, response.content
        sandbox = response.json()
        if start:
            response = await sync_to_async(self.client.post)(sandbox["links"]["start"])
            assert response.status_code == 200, response.content
            sandbox = response.json()
        return sandbox

    def socket(self, sandbox_id: int, after: int | None = None, origin=ORIGIN,
               host=b"testserver") -> WebsocketCommunicator:
        path = f"/ws/sandboxes/{sandbox_id}/"
        if after is not None:
            path += f"?after={after}"
        headers = [(b"host", host)]
        if origin is not None:
            headers.append((b"origin", origin))
        session = self.client.cookies.get("sessionid")
        if session is not None:
            headers.append((b"cookie", f"sessionid={session.value}".encode()))
        return WebsocketCommunicator(application, path, headers=headers)


def get(port: int, path: str = "/") -> None:
    """One real request to a sandbox (run in a thread: it blocks). The document root is
    empty, so the answer is a 404, which is fine: every answer is an exchange."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
    except urllib.error.HTTPError as err:
        err.read()


def _stored(path: str) -> int:
    return Exchange.objects.filter(target=path).count()


async def request(port: int, path: str = "/") -> None:
    """A request, then wait until its exchange is stored (and so published): henaserver's
    event writer and the ingest batch each take a few milliseconds after the answer."""
    before = await sync_to_async(_stored)(path)
    await asyncio.to_thread(get, port, path)

    def stored() -> bool:
        return ingestor().sync() and _stored(path) > before

    await asyncio.to_thread(wait_until, stored, 10, f"the exchange for {path} to be stored")


async def next_of(comm, kind: str, timeout: float = 10.0) -> dict:
    """The next message of type ``kind`` (others are skipped)."""
    while True:
        message = await comm.receive_json_from(timeout)
        if message["type"] == kind:
            return message


async def seqs_until(comm, last: int, timeout: float = 10.0) -> list[int]:
    """Every exchange seq received until ``last`` arrives."""
    seen = []
    while not seen or seen[-1] < last:
        message = await next_of(comm, "exchanges", timeout)
        seen += [item["seq"] for item in message["items"]]
    return seen


@pytest.fixture
def browser():
    return Browser()


async def test_owner_gets_history_then_live_exchanges(browser, free_port):
    sandbox = await browser.create(free_port)
    await request(free_port, "/")
    comm = browser.socket(sandbox["id"])
    connected, _ = await comm.connect()
    assert connected
    history = await next_of(comm, "exchanges")
    first = history["items"][0]
    assert (first["method"], first["target"], first["status"], first["outcome"]) == \
        ("GET", "/", 404, "complete")  # an empty document root
    assert "request_b64" not in first and "request_raw" not in first
    stats = await next_of(comm, "stats")
    assert stats["stored"] == 1
    status = await next_of(comm, "status")
    assert status["status"] == "running"

    await request(free_port, "/missing.css")
    live, console = [], []  # the access log line may come before or after the row
    while not (live and any("GET /missing.css" in line["text"] for line in console)):
        message = await comm.receive_json_from(10)
        if message["type"] == "exchanges":
            live += [(i["seq"], i["target"]) for i in message["items"]]
        elif message["type"] == "console":
            console += message["lines"]
    assert live == [(first["seq"] + 1, "/missing.css")]
    await comm.disconnect()


async def test_another_session_is_refused(browser, free_port):
    sandbox = await browser.create(free_port, start=False)
    stranger = Browser()
    await sync_to_async(stranger.client.get)("/")
    comm = stranger.socket(sandbox["id"])
    connected, _ = await comm.connect()
    assert not connected
    nobody = WebsocketCommunicator(application, f"/ws/sandboxes/{sandbox['id']}/",
                                   headers=[(b"host", b"testserver"), (b"origin", ORIGIN)])
    assert not (await nobody.connect())[0]


@pytest.mark.parametrize("origin, host, ok", [
    (b"http://testserver", b"testserver", True),
    (b"http://TESTSERVER:80", b"testserver", True),
    (b"http://localhost:8000", b"localhost:8000", True),
    (b"http://localhost:8123", b"localhost:8000", False),  # a page on a sandbox's port
    (b"http://127.0.0.1:8000", b"localhost:8000", False),  # the sandbox host name
    (b"https://testserver", b"testserver", False),
    (b"http://testserver:8000", b"testserver", False),
    (b"http://evil.example", b"testserver", False),
    (b"null", b"testserver", False),
    (None, b"testserver", False),  # no Origin: not a browser
    (b"http://evil.example", b"evil.example", False),  # a host we do not serve
])
async def test_origin_is_checked_exactly(browser, free_port, origin, host, ok):
    sandbox = await browser.create(free_port, start=False)
    comm = browser.socket(sandbox["id"], origin=origin, host=host)
    connected, _ = await comm.connect()
    assert connected is ok
    if connected:
        await comm.disconnect()


async def test_trusted_origins_are_exact_too(browser, free_port, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://class.example"]
    sandbox = await browser.create(free_port, start=False)
    for origin, ok in [(b"https://class.example", True), (b"https://class.example:8443", False),
                       (b"http://class.example", False)]:
        comm = browser.socket(sandbox["id"], origin=origin)
        assert (await comm.connect())[0] is ok
        if ok:
            await comm.disconnect()


async def test_resume_after_a_seq_has_no_gap_and_no_duplicate(browser, free_port):
    sandbox = await browser.create(free_port)
    for i in range(5):
        await request(free_port, f"/r{i}")
    comm = browser.socket(sandbox["id"], after=2)
    assert (await comm.connect())[0]
    assert await seqs_until(comm, 5) == [3, 4, 5]
    await request(free_port, "/r5")
    assert await seqs_until(comm, 6) == [6]
    await comm.disconnect()

    await request(free_port, "/while-away-1")
    await request(free_port, "/while-away-2")
    again = browser.socket(sandbox["id"], after=6)
    assert (await again.connect())[0]
    message = await next_of(again, "exchanges")  # the replay: both, in one message
    assert [(i["seq"], i["target"]) for i in message["items"]] == \
        [(7, "/while-away-1"), (8, "/while-away-2")]
    await request(free_port, "/after")
    assert await seqs_until(again, 9) == [9]
    await again.disconnect()


async def test_live_exchanges_arrive_batched(browser, free_port):
    sandbox = await browser.create(free_port)
    comm = browser.socket(sandbox["id"])
    assert (await comm.connect())[0]
    await next_of(comm, "status")

    def pipelined(count: int) -> None:
        with socket.create_connection(("127.0.0.1", free_port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * count)
            sock.settimeout(5)
            received = b""
            while received.count(b"HTTP/1.1 404") < count:
                received += sock.recv(65536)

    await asyncio.to_thread(pipelined, 40)
    messages, seen = 0, []
    while len(seen) < 40:
        message = await next_of(comm, "exchanges")
        messages += 1
        seen += [i["seq"] for i in message["items"]]
    assert seen == list(range(1, 41))
    assert messages < 40  # batched: not one message per exchange
    assert {i for i in range(1, 41)} == set(seen)
    await comm.disconnect()


async def test_repeated_and_gapped_batches_are_sent_once_in_order(browser, free_port,
                                                                   real_events, make_ingestor):
    """The join/backfill race, forced: a live batch repeating rows the client already
    has, then one that starts after a gap (batches the channel layer dropped): the
    consumer skips what it sent and fills the gap from the database."""
    sandbox = await browser.create(free_port)
    for i in range(4):
        await request(free_port, f"/g{i}")
    comm = browser.socket(sandbox["id"])
    assert (await comm.connect())[0]
    assert await seqs_until(comm, 4) == [1, 2, 3, 4]
    api = f"/api/sandboxes/{sandbox['id']}/exchanges/?after=0"
    items = (await sync_to_async(browser.client.get)(api)).json()["exchanges"]
    layer = get_channel_layer()
    group = group_name(sandbox["id"])
    await layer.group_send(group, {"type": "traffic.batch", "first_seq": 3, "last_seq": 4,
                                   "items": items[2:]})

    # Three more rows written by an ingestor that tells nobody, then a live batch that
    # carries only the newest of them.
    quiet = make_ingestor(lambda *args: True, capacity=100, keep_bytes=2**30)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    for _ in range(3):
        quiet.event(str(sandbox["id"]), exchange)
    assert await asyncio.to_thread(quiet.sync)
    items = (await sync_to_async(browser.client.get)(api)).json()["exchanges"]
    assert [i["seq"] for i in items] == [1, 2, 3, 4, 5, 6, 7]
    await layer.group_send(group, {"type": "traffic.batch", "first_seq": 7, "last_seq": 7,
                                   "items": items[-1:]})
    await comm.send_json_to({"type": "ping", "id": 1})
    received = []
    while True:
        message = await comm.receive_json_from(10)
        if message["type"] == "pong":
            break
        if message["type"] == "exchanges":
            received += [i["seq"] for i in message["items"]]
    assert received == [5, 6, 7]

    # A flood batch that stored only its newest row: the rest are counted, not sought.
    newest = dict(items[-1], seq=10)
    await layer.group_send(group, {"type": "traffic.batch", "first_seq": 8, "last_seq": 10,
                                   "items": [newest]})
    message = await next_of(comm, "exchanges")
    assert ([i["seq"] for i in message["items"]], message["skipped"]) == ([10], 2)
    # A flood batch that stored three rows and pushed its newest: the other two are in
    # the history (not_pushed), not skipped.
    await layer.group_send(group, {"type": "traffic.batch", "first_seq": 11, "last_seq": 13,
                                   "not_pushed": 2, "items": [dict(newest, seq=13)]})
    message = await next_of(comm, "exchanges")
    assert ([i["seq"] for i in message["items"]], message.get("skipped"),
            message["not_pushed"]) == ([13], None, 2)
    await comm.disconnect()


async def test_status_changes_are_pushed(browser, free_port):
    sandbox = await browser.create(free_port)
    comm = browser.socket(sandbox["id"])
    assert (await comm.connect())[0]
    assert (await next_of(comm, "status"))["status"] == "running"
    opening = await next_of(comm, "run")  # the current run, after the status
    assert (opening["run"]["number"], opening["run"]["ended_at"]) == (1, None)
    await sync_to_async(browser.client.post)(sandbox["links"]["stop"])
    while (await next_of(comm, "status"))["status"] != "stopped":
        pass
    await sync_to_async(browser.client.post)(sandbox["links"]["start"])
    # The stop ended run 1; the start began run 2 (no reset: the history stays).
    run = (await next_of(comm, "run"))["run"]
    assert (run["number"], run["ended_at"]) == (2, None)
    while (await next_of(comm, "status"))["status"] != "running":
        pass

    # A crash (the process killed from outside) is pushed with its exit code.
    pid = (await sync_to_async(browser.client.get)(sandbox["links"]["self"])).json()["pid"]
    os.kill(pid, signal.SIGKILL)
    status = await next_of(comm, "status")
    assert (status["status"], status["exit_code"]) == ("crashed", -9)
    await comm.disconnect()


async def test_a_restart_keeps_the_history_and_skips_nothing(browser, free_port):
    """The issue's case: a sandbox with 11 exchanges, Restart, open the traffic page,
    send one request. The 11 are still there (run 1), the new one is run 2, and no
    message says anything "went by too fast": nothing was skipped."""
    sandbox = await browser.create(free_port)
    for i in range(11):
        await request(free_port, f"/before{i}")
    response = await sync_to_async(browser.client.post)(sandbox["links"]["restart"])
    assert response.status_code == 200, response.content
    comm = browser.socket(sandbox["id"])
    assert (await comm.connect())[0]
    messages = []
    history = await next_of(comm, "exchanges")
    messages.append(history)
    assert [(i["target"], i["run"]) for i in history["items"]] == \
        [(f"/before{i}", 1) for i in range(11)]
    await request(free_port, "/after")
    while True:
        message = await comm.receive_json_from(10)
        if message["type"] == "exchanges":
            messages.append(message)
            if any(i["target"] == "/after" for i in message["items"]):
                break
    assert [(i["seq"], i["run"]) for i in messages[-1]["items"]] == [(12, 2)]
    assert not any(m.get("skipped") for m in messages)
    await comm.disconnect()


async def test_a_viewer_that_missed_many_batches_gets_every_stored_row(
        browser, free_port, real_events, make_ingestor):
    """Missed batches are filled from the database whole: a row in the history is never
    reported as skipped, however many there are (the old fill stopped at 500)."""
    sandbox = await browser.create(free_port)
    await request(free_port, "/first")
    comm = browser.socket(sandbox["id"])
    assert (await comm.connect())[0]
    assert await seqs_until(comm, 1) == [1]
    quiet = make_ingestor(lambda *args: True, keep_bytes=2**30)  # tells nobody
    exchange = next(e for e in real_events if e["type"] == "exchange")
    for _ in range(700):
        quiet.event(str(sandbox["id"]), exchange)
    assert await asyncio.to_thread(quiet.sync)
    api = f"/api/sandboxes/{sandbox['id']}/exchanges/?after=700"
    newest = (await sync_to_async(browser.client.get)(api)).json()["exchanges"]
    await get_channel_layer().group_send(group_name(sandbox["id"]), {
        "type": "traffic.batch", "first_seq": 701, "last_seq": 701, "items": newest})
    received, skipped = [], 0
    while not received or received[-1] < 701:
        message = await next_of(comm, "exchanges")
        received += [i["seq"] for i in message["items"]]
        skipped += message.get("skipped", 0)
    assert (received, skipped) == (list(range(2, 702)), 0)
    await comm.disconnect()


async def test_a_viewer_whose_handler_raised_no_longer_counts(free_port):
    """channels calls no disconnect() when a handler raises: before, such a viewer
    counted as watching for ever (sandboxes/presence.py), and its sandbox was never
    stopped as idle. Here a live message the consumer cannot handle (a batch with no
    range, as a mismatched process could send) makes the handler raise."""
    browser = Browser()
    sandbox = await browser.create(free_port, start=False)
    comm = browser.socket(sandbox["id"])
    connected, _ = await comm.connect()
    assert connected
    await next_of(comm, "console")  # the opening messages are sent: it is watching
    assert presence.viewing(sandbox["id"])
    await get_channel_layer().group_send(group_name(sandbox["id"]),
                                         {"type": "traffic.batch", "last_seq": 5})
    with pytest.raises(KeyError):
        await comm.receive_output(10)
    assert not presence.viewing(sandbox["id"])


async def test_a_client_message_the_json_guard_refuses_closes_cleanly(free_port):
    """Too deep for Python's parser, a lone surrogate, not JSON, a binary frame: each
    closes the socket with its code (4007, 4003), the consumer raises nothing."""
    browser = Browser()
    sandbox = await browser.create(free_port, start=False)
    for text, binary, code in (("[" * 100_000, None, 4007), ('"\\ud800"', None, 4007),
                               ("{", None, 4007), (None, b"\x00", 4003)):
        comm = browser.socket(sandbox["id"])
        assert (await comm.connect())[0]
        await next_of(comm, "console")
        await comm.send_to(text_data=text, bytes_data=binary)
        closed = await comm.receive_output(10)
        while closed["type"] != "websocket.close":
            closed = await comm.receive_output(10)
        assert closed.get("code") == code
        await comm.disconnect()  # raises what the application raised, if it did
        assert not presence.viewing(sandbox["id"])
