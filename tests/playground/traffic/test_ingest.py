"""The ingestor with real henaserver events: batching, seq, retention, exact totals, drops.

The events come from a real ``python -m henaserver --events FILE`` answering real
requests (the ``real_events`` fixture in conftest.py); each test feeds them to its own
Ingestor (``make_ingestor``: stopped when the test ends) and reads the database it wrote.
Messages to viewers are collected by the ``publish`` sink the Ingestor is given.
"""

import base64
import json
import os
import subprocess
import sys
import threading

import pytest
from testkit.load import keep_alive_burst
from testkit.waiting import wait_until

from playground.models import Exchange, Run, Sandbox
from playground.traffic import runs
from playground.traffic.exchanges import response_content_type
from playground.traffic.messages import LIVE_ITEMS

pytestmark = pytest.mark.django_db(transaction=True)


class Sink:
    """Collects what the Ingestor would send to viewers."""

    def __init__(self):
        self.messages = []

    def __call__(self, sandbox_id, message):
        self.messages.append((sandbox_id, message))
        return True

    def of(self, kind):
        return [m for _sid, m in self.messages if m["type"] == kind]


@pytest.fixture
def sandbox():
    return Sandbox.objects.create(name="s", port=18123, owner_token="t")


def _feed(ing, sandbox, events, repeat=1):
    for _ in range(repeat):
        for event in events:
            ing.event(str(sandbox.pk), event)
    assert ing.sync()


def test_exchanges_are_stored_with_exact_bytes_and_increasing_seq(real_events, sandbox,
                                                                  make_ingestor):
    sink = Sink()
    ing = make_ingestor(sink)
    _feed(ing, sandbox, real_events)
    rows = list(Exchange.objects.filter(sandbox=sandbox).order_by("seq"))
    recorded = [e for e in real_events if e["type"] == "exchange"]
    assert [r.seq for r in rows] == list(range(1, len(recorded) + 1))
    for row, event in zip(rows, recorded, strict=True):
        assert bytes(row.request_raw) == base64.b64decode(event["request_b64"])
        assert bytes(row.response_raw) == base64.b64decode(event["response_b64"])
        assert (row.conn, row.conn_index, row.outcome) == \
            (event["conn"], event["index"], event["outcome"])
    assert [r.conn_index for r in rows[:2]] == [0, 1]  # keep-alive reuse on conn 1
    assert rows[1].content_type.startswith("text/css")
    assert b"X-Odd: caf\xe9\r\n" in bytes(rows[1].request_raw)
    outcomes = {r.outcome for r in rows}
    assert {"complete", "rejected", "client_closed"} <= outcomes
    rejected = next(r for r in rows if r.outcome == "rejected")
    assert rejected.status == 400 and rejected.reason
    # Live messages carry summaries only, never bytes.
    items = [i for m in sink.of("traffic.batch") for i in m["items"]]
    assert [i["seq"] for i in items] == [r.seq for r in rows]
    assert not any("request_b64" in i or "request_raw" in i for i in items)


def test_totals_come_from_server_stats_and_survive_eviction(real_events, sandbox, make_ingestor):
    sink = Sink()
    ing = make_ingestor(sink, keep_count=3)
    _feed(ing, sandbox, real_events, repeat=5)  # one batch: each kind of event 5 times
    stats = [e for e in real_events if e["type"] == "server.stats"][-1]
    sandbox.refresh_from_db()
    per_run = len([e for e in real_events if e["type"] == "exchange"])
    assert Exchange.objects.filter(sandbox=sandbox).count() == 3
    assert sandbox.last_seq == 5 * per_run  # every exchange got a seq
    # The server's counters, not a count of rows (the same stats repeated 5 times).
    assert (sandbox.requests, sandbox.errors, sandbox.bytes_in, sandbox.bytes_out) == \
        (stats["exchanges"], stats["errors"], stats["bytes_in"], stats["bytes_out"])
    last = sink.of("traffic.batch")[-1]
    assert last["stats"]["requests"] == stats["exchanges"]
    assert last["stats"]["stored"] == 3
    seqs = list(Exchange.objects.filter(sandbox=sandbox).values_list("seq", flat=True))
    assert seqs == [5 * per_run - 2, 5 * per_run - 1, 5 * per_run]  # the newest kept


def test_retention_by_bytes_keeps_the_newest_within_the_budget(real_events, sandbox, make_ingestor):
    recorded = [e for e in real_events if e["type"] == "exchange"]
    one = len(base64.b64decode(recorded[0]["request_b64"])) + \
        len(base64.b64decode(recorded[0]["response_b64"]))
    ing = make_ingestor(Sink(), keep_bytes=one * 2)
    _feed(ing, sandbox, [recorded[0]] * 4)
    _feed(ing, sandbox, [recorded[0]] * 3)
    rows = Exchange.objects.filter(sandbox=sandbox)
    assert sum(r.stored_bytes for r in rows) <= one * 2
    assert list(rows.values_list("seq", flat=True)) == [6, 7]


def test_a_burst_is_batched_into_fewer_messages(real_events, sandbox, make_ingestor):
    sink = Sink()
    ing = make_ingestor(sink)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    _feed(ing, sandbox, [exchange] * 150)
    batches = sink.of("traffic.batch")
    # Each batch pushes its newest rows (at most LIVE_ITEMS) and counts the older ones it
    # stored as not_pushed: together they are every seq, once.
    pushed = [i["seq"] for m in batches for i in m["items"]]
    assert len(pushed) + sum(m["not_pushed"] for m in batches) == 150
    assert all(m["items"][-1]["seq"] == m["last_seq"] for m in batches)
    assert all(len(m["items"]) <= LIVE_ITEMS for m in batches)
    assert len(batches) < 150 / 10  # one message per batch, not per exchange


def test_a_flood_is_stored_whole_with_no_hole(real_events, sandbox, make_ingestor):
    sink = Sink()
    ing = make_ingestor(sink, keep_bytes=2**30)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    ing.event(str(sandbox.pk), {"type": "no-such-event"})  # unknown events are ignored
    _feed(ing, sandbox, [exchange] * 700)
    batches = sink.of("traffic.batch")
    stored = list(Exchange.objects.filter(sandbox=sandbox).values_list("seq", flat=True))
    assert stored == list(range(1, 701))  # every one: no sampling, no hole
    # Each message holds the newest rows its batch stored (the view may get a sample of
    # a flood, the history never), counts the others, and says which seqs it spans.
    assert sum(len(m["items"]) + m["not_pushed"] for m in batches) == 700
    assert [(m["first_seq"], m["last_seq"]) for m in batches] == \
        list(zip([1] + [m["last_seq"] + 1 for m in batches[:-1]],
                 [m["last_seq"] for m in batches], strict=True))
    counts = batches[-1]["stats"]["counts"]["run"]
    assert (counts["served"], counts["stored"], counts["not_recorded"]) == (700, 700, 0)


def test_a_full_queue_makes_the_producer_wait_instead_of_dropping(real_events, sandbox,
                                                                   make_ingestor):
    entered, release = threading.Event(), threading.Event()
    sink = Sink()

    def blocking_publish(sid, message):
        entered.set()
        release.wait(10)
        return sink(sid, message)

    exchange = next(e for e in real_events if e["type"] == "exchange")
    ing = make_ingestor(blocking_publish, capacity=4000)  # bytes: a few events
    ing.event(str(sandbox.pk), exchange)
    assert entered.wait(10)  # the writer is busy with the first batch
    done = threading.Event()

    def produce():
        for _ in range(40):
            ing.event(str(sandbox.pk), exchange)
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    # The producer is held back at the bound (what stops a reader thread reading a
    # child's pipe); it waits instead of dropping.
    wait_until(lambda: ing._queue.queued_bytes > 4000 - 1000, 10, "the queue to fill")
    assert not done.is_set()
    release.set()
    producer.join(10)
    assert done.is_set()
    assert ing.sync()
    assert Exchange.objects.filter(sandbox=sandbox).count() == 41


def test_a_new_run_keeps_the_history_and_numbers_runs(real_events, sandbox, make_ingestor):
    sink = Sink()
    ing = make_ingestor(sink)
    key = str(sandbox.pk)
    ing.new_run(key)
    _feed(ing, sandbox, real_events)
    before = Sandbox.objects.get(pk=sandbox.pk).last_seq
    ing.new_run(key)  # a start: run 1 (left open) is closed, run 2 begins
    exchange = next(e for e in real_events if e["type"] == "exchange")
    _feed(ing, sandbox, [exchange])
    rows = list(Exchange.objects.filter(sandbox=sandbox).values_list("seq", "run__number"))
    assert rows == [(seq, 1) for seq in range(1, before + 1)] + [(before + 1, 2)]
    runs = list(Run.objects.filter(sandbox=sandbox).order_by("number"))
    assert [r.number for r in runs] == [1, 2]
    assert runs[0].ended_at is not None and runs[1].ended_at is None
    assert sink.of("traffic.batch")[-1]["items"][0]["run"] == 2
    assert not sink.of("traffic.reset")
    assert len(sink.of("traffic.run")) == 2


def test_console_lines_are_batched_with_a_count_of_the_rest(sandbox, make_ingestor):
    sink = Sink()
    ing = make_ingestor(sink)
    for i in range(250):
        ing.output(str(sandbox.pk), "stdout", f"line {i}")
    ing.output(str(sandbox.pk), "stderr", "Traceback ...")
    assert ing.sync()
    lines = [line for m in sink.of("traffic.batch") for line in m.get("console", [])]
    skipped = sum(m.get("console_skipped", 0) for m in sink.of("traffic.batch"))
    assert len(lines) + skipped == 251
    assert lines[-1] == {"stream": "stderr", "text": "Traceback ..."}


def test_events_of_a_deleted_sandbox_are_dropped_quietly(real_events, sandbox, make_ingestor):
    sink = Sink()
    ing = make_ingestor(sink)
    key = sandbox.pk
    sandbox.delete()
    for event in real_events:
        ing.event(str(key), event)
    assert ing.sync()
    assert not Exchange.objects.exists() and sink.messages == []


@pytest.mark.parametrize("raw, expected", [
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\nx",
     "text/html; charset=utf-8"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-type: image/png\r\n\r\n",
     "image/png"),
    (b"HTTP/1.1 204 No Content\r\n\r\n", ""),
    (b"garbage", ""),
])
def test_response_content_type_reads_the_final_head(raw, expected):
    assert response_content_type(raw) == expected


def test_runs_are_bounded_oldest_empty_ones_go(sandbox, make_ingestor, monkeypatch):
    monkeypatch.setattr(runs, "RUNS_KEPT", 3)
    ing = make_ingestor(Sink())
    for _ in range(5):
        ing.new_run(str(sandbox.pk))
    assert ing.sync()
    assert list(Run.objects.filter(sandbox=sandbox).values_list("number", flat=True)) \
        == [3, 4, 5]  # numbers are never reused


def test_what_henaserver_dropped_is_counted_and_shows_as_seq_gaps(tmp_path, sandbox,
                                                                  make_ingestor):
    """A real henaserver whose event pipe is not read during a burst (what the ingest
    queue's back pressure does): its byte-bounded capture queue drops. Every exchange
    it did report is stored under seq = its number, so the lost ones are exactly the
    gaps, and the run counts them as not recorded (capture_queue_full)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.css").write_text("h1 { color: red }")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "henaserver", "--root", str(root), "--port", "0",
         "--events-fd", str(write_end), "--event-queue", "6000", "--quiet"],
        pass_fds=(write_end,), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(write_end)
    chunks = []
    try:
        port = int(proc.stdout.readline().decode().rsplit(":", 1)[1].split("/")[0])
        assert keep_alive_burst(port, 300, 3, "/a.css") == 300
        reader = threading.Thread(target=lambda: chunks.extend(
            iter(lambda: os.read(read_end, 65536), b"")))
        reader.start()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    reader.join(10)
    os.close(read_end)
    events = [json.loads(line) for line in b"".join(chunks).splitlines()]
    numbers = [e["number"] for e in events if e["type"] == "exchange"]
    lost = 300 - len(numbers)
    assert lost > 0, "nothing was dropped: the test did not fill the capture queue"

    ing = make_ingestor(Sink())
    ing.new_run(str(sandbox.pk))
    _feed(ing, sandbox, events)
    stored = set(Exchange.objects.filter(sandbox=sandbox).values_list("seq", flat=True))
    assert stored == set(numbers)  # seq = number: the gaps are the lost exchanges
    assert len(set(range(1, 301)) - stored) == lost
    counts = runs.counts(Run.objects.get(sandbox=sandbox))
    assert (counts["served"], counts["stored"], counts["removed"]) == (300, len(numbers), 0)
    assert counts["not_recorded_reasons"] == {"capture_queue_full": lost}


def _with_body(event, body_bytes, target=None):
    """A real exchange event whose response carries ``body_bytes`` more bytes."""
    response = base64.b64decode(event["response_b64"]) + os.urandom(body_bytes)
    changed = {**event, "response_b64": base64.b64encode(response).decode()}
    if target is not None:
        changed["target"] = target
    return changed


def _held_writer(make_ingestor, sink, **options):
    """An Ingestor whose writer is held inside its first publish until released, so
    what is queued meanwhile waits for the writer's next batch all at once."""
    entered, release = threading.Event(), threading.Event()

    def publish(sid, message):
        entered.set()
        release.wait(10)
        return sink(sid, message)

    return make_ingestor(publish, **options), entered, release


def test_a_batch_is_bounded_by_bytes(real_events, sandbox, make_ingestor):
    # One transaction holds all its bodies in memory and grows SQLite's WAL by their
    # size: 200 events of 60 KB queued at once must not become one 16 MB transaction.
    from playground.traffic.ingest import EVENT_OVERHEAD, MAX_BATCH_BYTES
    from playground.traffic.retention import b64_len

    sink = Sink()
    ing, entered, release = _held_writer(make_ingestor, sink, capacity=64 * 2**20,
                                         keep_bytes=2**30)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    big = _with_body(exchange, 60 * 1024)
    key = str(sandbox.pk)
    ing.event(key, big)
    assert entered.wait(10)  # the writer is busy with the first batch
    for _ in range(200):
        ing.event(key, big)
    release.set()
    assert ing.sync()
    spans = [m["last_seq"] - m["first_seq"] + 1 for m in sink.of("traffic.batch")]
    assert sum(spans) == 201
    size = EVENT_OVERHEAD + b64_len(big["request_b64"]) + b64_len(big["response_b64"])
    assert max(spans) <= MAX_BATCH_BYTES // size + 1, spans
    assert Exchange.objects.filter(sandbox=sandbox).count() == 201


def test_live_messages_are_bounded_by_bytes(real_events, sandbox, make_ingestor):
    # 8 KiB targets make a summary 9 KB: fifty of them would be a 450 KB message, and a
    # viewer's channel holds 100 messages. The newest that fit go, the rest are counted.
    from playground.traffic.messages import CONSOLE_BYTES, LIVE_ITEM_BYTES

    sink = Sink()
    ing, entered, release = _held_writer(make_ingestor, sink)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    key = str(sandbox.pk)
    ing.event(key, exchange)
    assert entered.wait(10)
    for n in range(60):
        ing.event(key, _with_body(exchange, 0, target=f"/{n}?" + "q" * 8000))
        ing.output(key, "stdout", f"line {n} " + "x" * 10_000)
    release.set()
    assert ing.sync()
    batches = sink.of("traffic.batch")
    with_items = [m for m in batches if m.get("items")]
    assert with_items[-1]["items"][-1]["target"].startswith("/59?")  # the newest
    for m in with_items:
        assert len(json.dumps(m["items"])) <= LIVE_ITEM_BYTES + len(json.dumps(m["items"][0]))
    assert sum(len(m["items"]) + m["not_pushed"] for m in with_items) == 61
    lines = [line for m in batches for line in m.get("console", [])]
    for m in batches:
        assert sum(len(line["text"]) for line in m.get("console", [])) <= CONSOLE_BYTES + 10_010
    assert len(lines) + sum(m.get("console_skipped", 0) for m in batches) == 60
    assert lines[-1]["text"].startswith("line 59 ")
