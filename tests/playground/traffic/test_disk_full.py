"""A full disk, for real: SQLite's ``PRAGMA max_page_count`` on the ingest writer's own
connection to the test's file database makes every insert that needs a new page fail
with "database or disk is full", exactly as a full disk does. The exchanges that could
not be stored are counted (not recorded: disk_full), nothing stored is damaged, and
recording resumes on its own once there is room again."""

import threading

import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from playground.models import Exchange, Run, Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


class Sink:
    def __init__(self):
        self.messages = []

    def __call__(self, sandbox_id, message):
        self.messages.append(message)
        return True


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
