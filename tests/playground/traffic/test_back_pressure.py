"""Back pressure, end to end: a real Supervisor runs a real henaserver child and hands
its events to an Ingestor whose writer is held up (as by a database that cannot keep
up). The ingest queue fills its bytes, the supervisor's reader thread waits instead of
dropping, the pipe fills, and henaserver drops at its own capture queue, counting each.
When the writer can go on, every exchange that reached the playground is stored, the
lost ones are exactly the gaps in seq, and the run counts them as capture_queue_full."""

import threading
from pathlib import Path

import pytest
from testkit.load import keep_alive_burst
from testkit.waiting import wait_until

from playground.models import Exchange, Run, Sandbox
from playground.sandboxes.supervisor import Supervisor
from playground.traffic import runs

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[3]


def test_a_held_up_writer_pushes_back_to_henaserver(tmp_path, free_port, make_ingestor):
    sandbox = Sandbox.objects.create(name="s", port=free_port, owner_token="t")
    key = str(sandbox.pk)
    held, entered = threading.Event(), threading.Event()

    def slow_publish(sid, message):  # the writer is busy: as a slow database would be
        entered.set()
        held.wait(30)
        return True

    ing = make_ingestor(slow_publish, capacity=20_000)  # bytes: a few dozen events
    ing.new_run(key)
    supervisor = Supervisor(on_event=ing.event, cwd=str(REPO))
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.css").write_text("h1 { color: red }")
    try:
        supervisor.start(key, root=str(root), host="127.0.0.1", port=free_port,
                         args=("--event-queue", "20000"))
        assert keep_alive_burst(free_port, 1, 1, "/a.css") == 1
        assert entered.wait(10)  # the writer is now held with its first batch
        assert keep_alive_burst(free_port, 3000, 5, "/a.css") == 3000  # serving never waits
        held.set()
    finally:
        held.set()
        supervisor.stop(key)
    assert ing.sync(30)
    run = Run.objects.get(sandbox=sandbox)
    counts = runs.counts(run)
    stored = list(Exchange.objects.filter(sandbox=sandbox).order_by("seq")
                  .values_list("seq", flat=True))
    lost = counts["not_recorded_reasons"].get("capture_queue_full", 0)
    assert counts["served"] == 3001 and lost > 0, counts
    assert (counts["stored"], counts["removed"]) == (len(stored), 0)
    assert counts["stored"] + lost == 3001
    # What henaserver could not record is exactly the missing seqs, nothing else, and
    # henaserver itself counted the drops (its final server.stats): the playground
    # dropped nothing.
    assert len(set(range(1, 3002)) - set(stored)) == lost
    sandbox.refresh_from_db()
    assert sandbox.events_dropped >= lost
    wait_until(lambda: not supervisor.pids(), 10, "the child to be gone")
