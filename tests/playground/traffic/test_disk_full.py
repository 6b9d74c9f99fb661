"""A full disk, for real: SQLite's ``PRAGMA max_page_count`` on the ingest writer's own
connection to the test's file database makes every insert that needs a new page fail
with "database or disk is full", exactly as a full disk does. The exchanges that could
not be stored are counted (not recorded: disk_full), nothing stored is damaged, and
recording resumes on its own once there is room again."""

import threading

import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from testkit.viewers import Sink

from playground.models import Exchange, Run, Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def writer_connection():
    """The ingest writer thread's database connection, once it has opened one."""
    found = []

    def remember(sender, connection, **kwargs):
        if threading.current_thread().name == "ingest-writer":
            found.append(connection)

    connection_created.connect(remember)
    yield found
    connection_created.disconnect(remember)


def test_a_full_disk_is_counted_and_recording_resumes(real_events, make_ingestor,
                                                       writer_connection):
    if connection.vendor != "sqlite":
        pytest.skip("max_page_count is SQLite's")
    sandbox = Sandbox.objects.create(name="s", port=18124, owner_token="t")
    sink = Sink()
    ing = make_ingestor(sink, keep_bytes=2**30)
    key = str(sandbox.pk)
    ing.new_run(key)
    exchange = next(e for e in real_events if e["type"] == "exchange")

    def feed(count):
        for _ in range(count):
            ing.event(key, exchange)
        assert ing.sync()

    feed(5)
    before = {seq: bytes(raw) for seq, raw in Exchange.objects.filter(sandbox=sandbox)
              .values_list("seq", "response_raw")}
    assert len(before) == 5 and writer_connection
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")  # no free pages left inside the file
    raw = writer_connection[0].connection  # Django opens SQLite shareable across threads
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    raw.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full

    for _ in range(10):  # batches: each needs new pages, none fits
        feed(30)
    run = Run.objects.get(sandbox=sandbox)
    lost = run.lost.get("disk_full", 0)
    assert lost > 0
    stored_while_full = Exchange.objects.filter(sandbox=sandbox).count()
    assert stored_while_full + lost == 5 + 300 == run.served
    # What was stored is intact.
    assert {seq: bytes(raw) for seq, raw in Exchange.objects.filter(sandbox=sandbox, seq__lte=5)
            .values_list("seq", "response_raw")} == before
    counts = [m for m in sink.messages if "stats" in m][-1]["stats"]["counts"]["run"]
    assert counts["not_recorded_reasons"] == {"disk_full": lost}

    raw.execute("PRAGMA max_page_count = 1073741823")  # space is back
    feed(20)
    run.refresh_from_db()
    newest = list(Exchange.objects.filter(sandbox=sandbox).order_by("-seq")
                  .values_list("seq", flat=True)[:20])
    assert newest == list(range(325, 305, -1))  # recorded again, after the lost ones' seqs
    assert run.served == 325 == run.stored + run.lost["disk_full"] and run.removed == 0


def test_a_locked_database_is_counted_and_owed_until_it_can_be_written(
        real_events, make_ingestor, writer_connection):
    """Another program holds SQLite's write lock longer than the writer waits: the
    batch and even its count cannot be written. The count is kept and written with the
    next batch that succeeds (reason database_error): the totals still add up."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's lock")
    import sqlite3

    sandbox = Sandbox.objects.create(name="s", port=18126, owner_token="t")
    ing = make_ingestor(Sink(), keep_bytes=2**30)
    key = str(sandbox.pk)
    ing.new_run(key)
    exchange = next(e for e in real_events if e["type"] == "exchange")
    numbers = iter(range(1, 100))

    def feed(count):  # numbered as henaserver numbers them, 1, 2, 3...
        for _ in range(count):
            ing.event(key, dict(exchange, number=next(numbers)))
        assert ing.sync(30)

    feed(3)
    writer_connection[0].connection.execute("PRAGMA busy_timeout = 50")  # wait 50 ms
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        feed(7)
        other.execute("ROLLBACK")
    finally:
        other.close()
    feed(2)
    run = Run.objects.get(sandbox=sandbox)
    assert run.lost == {"database_error": 7}
    assert (run.served, run.stored) == (12, 5)
    assert list(Exchange.objects.filter(sandbox=sandbox).order_by("seq")
                .values_list("seq", flat=True)) == [1, 2, 3, 11, 12]
