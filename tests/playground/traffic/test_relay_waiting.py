"""The relay's "no response yet" rows (``exchange.waiting``, traffic/waiting.py) end
whichever way their exchange reaches the page, and a page opened while a request waits
sees it. The events come from a REAL relay in front of a server that never answers
/silent (its 504 after 1 s); the page's side is the real websocket consumer."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from relay_run import RelayRun, send
from testkit.viewers import Sink

from playground.asgi import application
from playground.models import Sandbox
from playground.traffic.ingest import ingestor
from playground.traffic.messages import LIVE_ITEMS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def silent_events(tmp_path_factory):
    """An answered request (GET /), then one announced as waiting and ended by the
    relay's 504: [the answered exchange, the waiting event, the 504 exchange]."""
    relay = RelayRun(tmp_path_factory.mktemp("relay"))
    try:
        send(relay.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert b" 504 " in send(relay.port, b"GET /silent HTTP/1.1\r\nHost: a\r\n\r\n",
                                 half_close=False)
        events = relay.wait("exchange", 2)
    finally:
        relay.stop()
    ok = next(e for e in events if e["type"] == "exchange" and e["target"] == "/")
    waiting = next(e for e in events if e["type"] == "exchange.waiting")
    ended = next(e for e in events if e["type"] == "exchange" and e["target"] == "/silent")
    assert (ended["conn"], ended["index"]) == (waiting["conn"], waiting["index"])
    return ok, waiting, ended


def test_a_waiting_row_ends_even_when_its_exchange_is_not_pushed(silent_events,
                                                                 make_ingestor):
    # A flood: the 504 comes in a batch with LIVE_ITEMS newer exchanges, so only those
    # are pushed and the 504 is counted as not_pushed. The viewer must still learn that
    # the request it shows waiting was answered.
    ok, waiting, ended = silent_events
    sandbox = Sandbox.objects.create(name="w", port=18331, owner_token="t")
    sink = Sink()
    ing = make_ingestor(sink)
    ing.event(sandbox.key, waiting)
    assert ing.sync()
    for event in [ended] + [dict(ok, conn=1000 + i) for i in range(LIVE_ITEMS + 10)]:
        ing.event(sandbox.key, event)
    assert ing.sync()
    batches = [m for m in sink.messages if m["type"] == "traffic.batch"]
    assert [w["target"] for m in batches for w in m.get("waiting", [])] == ["/silent"]
    answered = [a for m in batches for a in m.get("answered", [])]
    assert answered == [{"conn": ended["conn"], "index": ended["index"]}]
    pushed = [i["target"] for m in batches for i in m.get("items", [])]
    if "/silent" not in pushed:  # the flood's case (one batch): counted, not pushed
        assert sum(m.get("not_pushed", 0) for m in batches) >= 1
    assert ing.waiting.now(sandbox.pk) == []


async def next_of(comm, kind: str, timeout: float = 10.0) -> dict:
    while True:
        message = await comm.receive_json_from(timeout)
        if message["type"] == kind:
            return message


@pytest.mark.asyncio
async def test_a_page_opened_while_a_request_waits_shows_it(silent_events, fresh_layer,
                                                           free_port):
    ok, waiting, ended = silent_events
    client = Client()
    response = await sync_to_async(client.post)(
        "/api/sandboxes/", {"name": "w", "port": free_port}, content_type="application/json")
    sandbox = response.json()
    key = str(sandbox["id"])

    def feed(*events):
        for event in events:
            ingestor().event(key, event)
        assert ingestor().sync()

    def socket() -> WebsocketCommunicator:
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        return WebsocketCommunicator(application, f"/ws/sandboxes/{key}/", headers=[
            (b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", cookie)])

    await asyncio.to_thread(feed, ok, waiting)  # announced before the page opened
    comm = socket()
    assert (await comm.connect())[0]
    shown = await next_of(comm, "waiting")
    assert shown["replace"] is True
    assert [(w["conn"], w["index"], w["target"]) for w in shown["items"]] == \
        [(waiting["conn"], waiting["index"], "/silent")]

    await asyncio.to_thread(feed, ended)
    message = await next_of(comm, "answered")
    assert message["items"] == [{"conn": ended["conn"], "index": ended["index"]}]
    await comm.disconnect()

    comm = socket()  # a page that reconnects: the whole set, now empty, replaces its rows
    assert (await comm.connect())[0]
    shown = await next_of(comm, "waiting")
    assert (shown["replace"], shown["items"]) == (True, [])
    await comm.disconnect()
