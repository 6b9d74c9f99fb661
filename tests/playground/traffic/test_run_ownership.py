"""Each server's events in its own run, and counts that stay true under restarts, two
writers and database failures (review findings 1a, 1b, 1c, 1g, 3 of issue 11).

Real henaserver children (a real Supervisor) and real events; each test has Ingestors of
its own (``make_ingestor``): two of them on one sandbox stand for two playground
processes, each with its own writer thread and in-memory window, on one database.
"""

import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from django.db import OperationalError, connection, models
from django.db.backends.signals import connection_created
from testkit.load import keep_alive_burst
from testkit.waiting import wait_until

from playground.models import Exchange, Run, Sandbox
from playground.sandboxes.supervisor import Supervisor
from playground.traffic import exchanges, runs
from playground.traffic.runbook import refusal_reason

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[3]


def sink(sid, message):
    return True


def seqs_of_run(run):
    return list(Exchange.objects.filter(run=run).order_by("seq").values_list("seq", flat=True))


def add_up(counts):
    return counts["served"] == counts["stored"] + counts["removed"] + counts["not_recorded"]


@pytest.fixture
def sandbox(free_port):
    return Sandbox.objects.create(name="s", port=free_port, owner_token="t")


class Writers(list):
    """The database connections the ingest writer threads opened; ``impatient``: they
    (and those they open after an error) wait only 50 ms for a lock."""

    impatient = False


@pytest.fixture
def writer_connections():
    found = Writers()

    def remember(sender, connection, **kwargs):
        if threading.current_thread().name == "ingest-writer":
            found.append(connection)
            if found.impatient:
                connection.connection.execute("PRAGMA busy_timeout = 50")

    connection_created.connect(remember)
    yield found
    connection_created.disconnect(remember)


def test_a_restart_behind_a_held_up_writer_keeps_each_servers_events_in_its_run(
        tmp_path, sandbox, make_ingestor):
    """1a, same process: the writer is held (a slow database) while a burst fills the
    ingest queue; the old server's reader waits for room, the rest of its events wait
    in the pipe (the burst is small enough for the pipe, so the server itself exits at
    once). The stop returns only once every event of the old server was handed on, so
    the new run begins after its tail: run 1 has exactly the 61 exchanges its server
    answered, run 2 starts clean."""
    key, port = str(sandbox.pk), sandbox.port
    held, entered = threading.Event(), threading.Event()

    def slow_publish(sid, message):
        entered.set()
        held.wait(60)
        return True

    ing = make_ingestor(slow_publish, capacity=20_000, keep_count=5000)
    ing.new_run(key, "one")
    supervisor = Supervisor(on_event=ing.event, cwd=str(REPO))
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.css").write_text("h1 { color: red }")
    stopped = threading.Event()

    def restart():  # what a Restart does: stop, then the new run is queued
        supervisor.stop(key)
        stopped.set()
        ing.new_run(key, "two")

    stopper = threading.Thread(target=restart)
    try:
        supervisor.start(key, root=str(root), host="127.0.0.1", port=port,
                         tag="one")
        assert keep_alive_burst(port, 1, 1, "/a.css") == 1
        assert entered.wait(10)  # the writer is held with its first batch
        assert keep_alive_burst(port, 60, 2, "/a.css") == 60
        wait_until(lambda: ing._queue.queued_bytes > 20_000 - 1000, 10, "a full queue")
        stopper.start()
        # The old server's events are still on their way (the reader waits for room
        # in the queue): a stop that returned now (as it did after 2 s) would let the
        # new run begin before them. Give it the chance, then let the writer go on.
        stopped.wait(3.0)
    finally:
        held.set()
        stopper.join(30) if stopper.is_alive() else None
    assert stopped.is_set()
    supervisor.start(key, root=str(root), host="127.0.0.1", port=port, tag="two")
    assert keep_alive_burst(port, 10, 2, "/a.css") == 10
    supervisor.stop(key)
    assert ing.sync(60)
    one, two = Run.objects.filter(sandbox=sandbox).order_by("number")
    first, second = runs.counts(one), runs.counts(two)
    stored_one = seqs_of_run(one)
    assert stored_one == list(range(1, 62))  # every answer, none lost, none shifted
    assert first == {"served": 61, "stored": 61, "removed": 0, "not_recorded": 0,
                     "not_recorded_reasons": {}}
    assert (second["served"], second["stored"], second["not_recorded"]) == (10, 10, 0)
    assert seqs_of_run(two) == list(range(two.seq_base + 1, two.seq_base + 11))
    assert two.seq_base >= max(stored_one)


def test_a_late_tail_is_counted_in_its_own_run_never_in_the_next(real_events, sandbox,
                                                                 make_ingestor):
    """1a, the safety net: events of an old server that arrive after the next run began
    numbering (another process did not answer in time) go to their own run; those whose
    seqs the new run already uses are counted there (arrived_late), never shifted."""
    ing = make_ingestor(sink)
    key = str(sandbox.pk)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    ing.new_run(key, "a")
    for n in range(1, 6):
        ing.event(key, dict(exchange, number=n), "a")
    assert ing.sync()
    ing.new_run(key, "b")
    for n in range(6, 9):
        ing.event(key, dict(exchange, number=n), "a")  # the late tail
    for n in range(1, 4):
        ing.event(key, dict(exchange, number=n), "b")
    assert ing.sync()
    one, two = Run.objects.filter(sandbox=sandbox).order_by("number")
    assert runs.counts(one) == {"served": 8, "stored": 5, "removed": 0, "not_recorded": 3,
                                "not_recorded_reasons": {"arrived_late": 3}}
    assert runs.counts(two) == {"served": 3, "stored": 3, "removed": 0, "not_recorded": 0,
                                "not_recorded_reasons": {}}
    assert seqs_of_run(one) == [1, 2, 3, 4, 5] and seqs_of_run(two) == [6, 7, 8]


def test_a_status_ends_only_runs_that_existed_when_it_was_queued(sandbox, make_ingestor):
    """1a: process A's writer is slow; its "stopped" status (queued when run 1 was the
    newest) is applied after process B began run 2: run 2 keeps running."""
    held = threading.Event()

    def slow_publish(sid, message):
        held.wait(30)
        return True

    a = make_ingestor(slow_publish)
    b = make_ingestor(sink)
    key = str(sandbox.pk)
    a.new_run(key, "a")
    wait_until(lambda: Run.objects.filter(sandbox=sandbox).exists(), 10, "run 1")
    a.status(key)  # the row is stopped: run 1 ends, when A's writer gets to it
    b.new_run(key, "b")
    assert b.sync()
    held.set()
    assert a.sync()
    one, two = Run.objects.filter(sandbox=sandbox).order_by("number")
    assert one.ended_at is not None
    assert two.ended_at is None


def _hold_write_lock(writers):
    """Another program takes SQLite's write lock; the writers wait 50 ms for it."""
    writers.impatient = True
    for conn in writers:
        if conn.connection is not None:
            conn.connection.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_failing_control_item_does_not_cost_the_events_after_it(
        real_events, sandbox, make_ingestor, writer_connections):
    """1b: a status change that cannot be written (the database locked past its
    timeout) is logged; the events queued after it in the same batch are still
    counted, and a sync in that batch still answers."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's lock")
    ing = make_ingestor(sink)
    key = str(sandbox.pk)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    ing.new_run(key, "a")
    ing.event(key, dict(exchange, number=1), "a")
    assert ing.sync()
    other = _hold_write_lock(writer_connections)
    try:
        ing.status(key)  # cannot end the run: locked
        for n in range(2, 7):
            ing.event(key, dict(exchange, number=n), "a")
        assert ing.sync(10)
    finally:
        other.execute("ROLLBACK")
        other.close()
    ing.event(key, dict(exchange, number=7), "a")
    assert ing.sync()
    run = Run.objects.get(sandbox=sandbox)
    assert runs.counts(run) == {"served": 7, "stored": 2, "removed": 0, "not_recorded": 5,
                                "not_recorded_reasons": {"database_error": 5}}


def test_a_count_owed_when_the_server_stops_is_written_at_the_stop(
        real_events, sandbox, make_ingestor, writer_connections):
    """1g: the database refused the server's last batch and even its count; no batch
    follows (the server stopped). The count is written when the stop is processed, not
    left to look like capture_queue_full."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's lock")
    ing = make_ingestor(sink)
    key = str(sandbox.pk)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    ing.new_run(key, "a")
    assert ing.sync()
    other = _hold_write_lock(writer_connections)
    try:
        for n in range(1, 5):
            ing.event(key, dict(exchange, number=n), "a")
        assert ing.sync(10)
    finally:
        other.execute("ROLLBACK")
        other.close()
    ing.status(key)  # the row says stopped
    assert ing.sync()
    run = Run.objects.get(sandbox=sandbox)
    assert run.ended_at is not None
    assert runs.counts(run)["not_recorded_reasons"] == {"database_error": 4}
    assert run.served == 4


def test_two_writers_evicting_the_same_rows_count_them_once(real_events, make_ingestor):
    """1c: writer A (one process) removes the owner's oldest rows, some of them in the
    sandbox writer B (another process) ingests; B's window still lists them and B
    evicts them again. Each run's stored equals its rows, removed equals what is gone."""
    x = Sandbox.objects.create(name="x", port=18201, owner_token="o")
    y = Sandbox.objects.create(name="y", port=18202, owner_token="o")
    a = make_ingestor(sink, keep_count=20, owner_count=25)
    b = make_ingestor(sink, keep_count=20, owner_count=25)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    b.new_run(str(y.pk), "y")
    a.new_run(str(x.pk), "x")
    for n in range(1, 21):  # y: 20 rows, B's window lists them
        b.event(str(y.pk), dict(exchange, number=n), "y")
    assert b.sync()
    for n in range(1, 16):  # x: 15 rows; the owner has 35 > 25: y's oldest 10 go
        a.event(str(x.pk), dict(exchange, number=n), "x")
    assert a.sync()
    for n in range(21, 31):  # y: 10 more; B's window says 30 > 20: it evicts 10 again
        b.event(str(y.pk), dict(exchange, number=n), "y")
    assert b.sync()
    for run in Run.objects.all():
        counts = runs.counts(run)
        rows = Exchange.objects.filter(run=run).count()
        assert counts["stored"] == rows, (run, counts)
        assert counts["served"] == run.last_number and add_up(counts), (run, counts)
        assert counts["not_recorded"] == 0, (run, counts)


def test_a_full_disk_is_told_by_the_drivers_error_code(tmp_path):
    """3: SQLite's SQLITE_FULL and PostgreSQL's SQLSTATE 53100, never English text."""
    raw = sqlite3.connect(tmp_path / "full.db")
    raw.execute("CREATE TABLE t (b BLOB)")
    raw.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.OperationalError) as full:
        raw.execute("INSERT INTO t VALUES (zeroblob(100000))")
    raw.close()

    def wrapped(cause):  # as Django raises it: its own class, the driver's as cause
        try:
            raise OperationalError(*cause.args) from cause
        except OperationalError as exc:
            return exc

    assert refusal_reason(wrapped(full.value)) == runs.DISK_FULL
    busy = sqlite3.OperationalError("database or disk is full")  # text, but no code
    assert refusal_reason(wrapped(busy)) == runs.DATABASE_ERROR
    psycopg = pytest.importorskip("psycopg")
    assert refusal_reason(wrapped(psycopg.errors.DiskFull("no space"))) == runs.DISK_FULL
    assert refusal_reason(wrapped(psycopg.errors.LockNotAvailable("x"))) == \
        runs.DATABASE_ERROR


def test_insert_prepares_every_field_it_does_not_know_as_plain():
    """3: a DateTimeField or UUIDField added to Exchange one day is prepared by its
    field, never passed to the driver as it is."""
    fields = [models.DateTimeField(), models.UUIDField(), models.JSONField(),
              models.IntegerField(), models.BinaryField()]
    for i, f in enumerate(fields):
        f.set_attributes_from_name(f"f{i}")
    prepared = [convert is not None for _name, convert in exchanges.preparations(fields)]
    assert prepared == [True, True, True, False, False]


def test_counts_log_a_mismatch_and_invent_no_reason(sandbox, caplog):
    """1c: more rows accounted for than the server served is our counting error: it
    is logged, and no reason (no capture_queue_full) is made up for it."""
    run = Run.objects.create(sandbox=sandbox, number=1, mode="static", served=5,
                             stored=4, removed=3)
    with caplog.at_level(logging.WARNING, logger="playground.traffic.runs"):
        counts = runs.counts(run)
    assert counts["not_recorded_reasons"] == {}
    assert "counting error" in caplog.text


def test_a_failure_after_the_commit_counts_nothing_twice(real_events, sandbox, make_ingestor):
    """A batch stored, then something fails after its commit (here: telling viewers):
    its exchanges stay counted as stored, never also as not recorded."""
    def publish_fails(sandbox_id, message):
        if message.get("type") == "traffic.batch":
            raise RuntimeError("the channel layer is gone")

    ing = make_ingestor(publish_fails)
    key = str(sandbox.pk)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    ing.new_run(key, "a")
    for n in range(1, 4):
        ing.event(key, dict(exchange, number=n), "a")
    assert ing.sync()
    ing.event(key, dict(exchange, number=4), "a")  # the next batch pays any "debt"
    assert ing.sync()
    run = Run.objects.get(sandbox=sandbox)
    assert runs.counts(run) == {"served": 4, "stored": 4, "removed": 0, "not_recorded": 0,
                                "not_recorded_reasons": {}}


def test_a_run_that_cannot_be_closed_still_lets_viewers_know_it_stopped(
        real_events, sandbox, make_ingestor, writer_connections):
    """The server stopped while the database refuses writes (locked past its timeout):
    closing its run fails and is logged, but the viewers are still told it stopped."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's lock")
    told: list[dict] = []
    ing = make_ingestor(lambda sid, message: told.append(message))
    key = str(sandbox.pk)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    ing.new_run(key, "a")
    ing.event(key, dict(exchange, number=1), "a")
    assert ing.sync()
    Sandbox.objects.filter(pk=sandbox.pk).update(status=Sandbox.Status.STOPPED)
    other = _hold_write_lock(writer_connections)
    try:
        ing.status(key)
        assert ing.sync(10)
    finally:
        other.execute("ROLLBACK")
        other.close()
    statuses = [m["status"]["status"] for m in told if m["type"] == "sandbox.status"]
    assert statuses == ["stopped"]
