"""The capture relay's stream in the playground: a REAL relay process (``python -m
henaserver relay``) in front of a small hand-written server that makes mistakes; its
events go to an Ingestor as the supervisor's reader would give them. The exchanges keep
their ``mistake`` and the outcome ``server_closed``, the ``stream`` records are stored
with their exact bytes, listed by the API and in the raw dump, ``exchange.waiting``
reaches viewers, and the exports and the composer work on a relay stream."""

from __future__ import annotations

import asyncio
import base64
import json
import socket

import pytest
from django.utils import translation
from relay_run import AFTER, BARE_LF, NOT_HTTP, OK, REPO, SHORT, RelayRun, send
from testkit.viewers import Sink

from henaserver.responses import MISTAKES as RELAY_MISTAKES
from playground.compose import composer
from playground.models import Exchange, Sandbox, StreamRecord
from playground.traffic import mistakes, outcomes, streams
from playground.traffic.ingest import Ingestor, ingestor
from playground.traffic.messages import Pending

pytestmark = pytest.mark.django_db(transaction=True)

GLOSSARY = REPO / "static" / "playground" / "data" / "glossary.json"


def not_http_then_more(relay: RelayRun) -> None:
    """Bytes that are not HTTP (an exchange, answered by the server), then more bytes
    on the same connection: a ``stream`` record."""
    with socket.create_connection(("127.0.0.1", relay.port)) as sock:
        sock.sendall(NOT_HTTP)
        sock.settimeout(10)
        assert sock.recv(65536) == OK
        sock.sendall(AFTER)
        relay.wait("stream", 1)


@pytest.fixture(scope="module")
def relay_events(tmp_path_factory):
    """The events of a relay session: bare LF, a short body, bytes that are not HTTP
    followed by more, and a request never answered (announced, then 504)."""
    relay = RelayRun(tmp_path_factory.mktemp("relay"))
    try:
        assert send(relay.port, b"GET /barelf HTTP/1.1\r\nHost: a\r\n\r\n") == BARE_LF
        assert send(relay.port, b"GET /short HTTP/1.1\r\nHost: a\r\n\r\n") == SHORT
        not_http_then_more(relay)
        assert b" 504 " in send(relay.port, b"GET /silent HTTP/1.1\r\nHost: a\r\n\r\n",
                                 half_close=False)
        relay.wait("exchange", 4)
        relay.wait("exchange.waiting", 1)
        return relay.events()
    finally:
        relay.stop()


def test_mistakes_outcomes_and_streams_are_stored(relay_events, make_ingestor):
    sandbox = Sandbox.objects.create(name="r", port=18321, owner_token="t")
    sink = Sink()
    ing = make_ingestor(sink)
    # Up to the announcement in one batch, the rest (its 504 among them) in another.
    split = next(i for i, e in enumerate(relay_events) if e["type"] == "exchange.waiting")
    for part in (relay_events[:split + 1], relay_events[split + 1:]):
        for event in part:
            ing.event(sandbox.key, event)
        assert ing.sync()
    rows = {row.target: row for row in Exchange.objects.filter(sandbox=sandbox)}
    assert rows["/barelf"].mistake == "bare_lf" and rows["/barelf"].outcome == "complete"
    assert bytes(rows["/barelf"].response_raw) == BARE_LF
    assert rows["/short"].mistake == "body_too_short"
    assert rows["/short"].outcome == "server_closed"  # not flattened to "complete"
    assert rows["/silent"].mistake == "never_answered" and rows["/silent"].status == 504
    unparsed = Exchange.objects.get(sandbox=sandbox, method="")
    assert bytes(unparsed.request_raw) == NOT_HTTP and unparsed.mistake == ""
    record = StreamRecord.objects.get(sandbox=sandbox)
    assert (bytes(record.data), record.direction, record.length) == (AFTER, "to_server",
                                                                    len(AFTER))
    # Viewers: summaries carry the mistake, a batch says streams came, and the
    # unanswered request was pushed as waiting (conn, index, method, target, since).
    batches = [m for m in sink.messages if m["type"] == "traffic.batch"]
    items = [item for m in batches for item in m.get("items", [])]
    assert {i["target"]: i["mistake"] for i in items}["/short"] == "body_too_short"
    assert sum(m.get("streams", 0) for m in batches) == 1
    waiting = [w for m in batches for w in m.get("waiting", [])]
    silent = next(e for e in relay_events if e["type"] == "exchange"
                  and e["target"] == "/silent")
    assert waiting == [{"conn": silent["conn"], "index": 0, "method": "GET",
                        "target": "/silent", "since_us": silent["times"]["request_complete"],
                        "timeout_ms": 1000}]


def test_a_request_answered_within_the_batch_is_not_pushed_as_waiting(relay_events):
    # The announcement and its 504 in one batch: the viewer would get the exchange
    # first, then a waiting row that nothing would end.
    batch = Pending()
    for event in relay_events:
        Ingestor._collect(batch, event)
    assert batch.waiting == []
    assert any(e.get("mistake") == "never_answered" for e in batch.exchanges)


def test_streams_are_bounded_per_sandbox(relay_events, make_ingestor):
    sandbox = Sandbox.objects.create(name="b", port=18322, owner_token="t")
    ing = make_ingestor(Sink())
    stream = next(e for e in relay_events if e["type"] == "stream")
    for i in range(streams.KEEP + 30):
        ing.event(sandbox.key, {**stream, "conn": i})
    assert ing.sync()
    kept = list(StreamRecord.objects.filter(sandbox=sandbox).order_by("id")
                .values_list("conn", flat=True))
    assert kept == list(range(30, streams.KEEP + 30))  # the newest KEEP


@pytest.fixture
def owned_relay(client, free_port, tmp_path):
    """A sandbox of the test client's, whose port the real relay listens on, and an
    ingestor fed from the relay's events (as a program sandbox's would be)."""
    sandbox = client.post("/api/sandboxes/", {"name": "mine", "port": free_port},
                          content_type="application/json").json()
    relay = RelayRun(tmp_path, free_port)
    yield sandbox, relay
    relay.stop()


def _ingest(relay: RelayRun, sandbox: dict, exchanges: int) -> None:
    for event in relay.wait("exchange", exchanges):
        ingestor().event(str(sandbox["id"]), event)
    assert ingestor().sync()


def test_the_api_lists_exports_and_dumps_a_relay_stream(client, owned_relay):
    sandbox, relay = owned_relay
    send(relay.port, b"GET /barelf?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
    not_http_then_more(relay)
    _ingest(relay, sandbox, 2)
    links = sandbox["links"]
    items = client.get(links["exchanges"]).json()["exchanges"]
    barelf = next(i for i in items if i["target"] == "/barelf?x=1")
    assert barelf["mistake"] == "bare_lf"
    listed = client.get(f"/api/sandboxes/{sandbox['id']}/streams/").json()["streams"]
    assert [base64.b64decode(s["preview_b64"]) for s in listed] == [AFTER]
    assert listed[0]["direction"] == "to_server" and listed[0]["reason"]
    dump = client.get(links["exchanges"] + "export.raw?run=all").content
    assert BARE_LF in dump and AFTER in dump and b"=== stream conn" in dump
    har = json.loads(client.get(links["exchanges"] + "export.har?run=all").content)
    assert any(e["request"]["url"].endswith("/barelf?x=1") for e in har["log"]["entries"])
    curl = client.get(links["exchanges"] + f"{barelf['seq']}/export/curl").content.decode()
    assert "/barelf?x=1" in curl
    sent = client.get(links["exchanges"] + f"{barelf['seq']}/server_send.txt").content
    assert sent == BARE_LF


def test_the_composer_sends_through_the_relay_and_its_exchange_is_recorded(owned_relay):
    sandbox, relay = owned_relay
    result = asyncio.run(composer.send("127.0.0.1", relay.port,
                                       b"GET /short HTTP/1.1\r\nHost: a\r\n\r\n", pieces=3,
                                       delay_ms=20))
    assert bytes(result.response) == SHORT and result.closed_by_server
    _ingest(relay, sandbox, 1)
    row = Exchange.objects.get(sandbox_id=sandbox["id"], target="/short")
    assert (row.mistake, row.outcome) == ("body_too_short", "server_closed")


def test_every_relay_mistake_has_words_in_both_languages_and_a_glossary_entry():
    glossary = json.loads(GLOSSARY.read_text(encoding="utf-8"))["mistakes"]
    assert set(mistakes.MISTAKES) == set(RELAY_MISTAKES) == set(glossary)
    with translation.override("ja"):
        labels = mistakes.labels()
        words = outcomes.labels()
    for name, label in mistakes.MISTAKES.items():
        assert labels[name] != label, f"{name}: no Japanese label"
        assert glossary[name]["ja"] and glossary[name]["en"] and glossary[name]["rfc"]
    assert words["server_closed"] != outcomes.OUTCOMES["server_closed"]


def test_the_traffic_page_carries_the_mistake_labels(client, owned_relay):
    sandbox, _relay = owned_relay
    client.cookies["django_language"] = "ja"
    page = client.get(f"/sandboxes/{sandbox['id']}/traffic/").content.decode()
    assert 'id="mistakes-data"' in page and 'id="waiting-rows"' in page
    assert 'id="streams"' in page
    with translation.override("ja"):
        assert json.dumps(mistakes.labels()["bare_lf"])[1:-1] in page
