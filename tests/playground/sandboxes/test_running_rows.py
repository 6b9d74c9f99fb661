"""runtime.running: is_running's answer for many rows at once, in two queries."""

from __future__ import annotations

from django.utils import timezone

from playground.models import PlaygroundProcess, Sandbox
from playground.sandboxes import heartbeat, runtime

# Another host's process (its beats decide) and one that never beat.
ELSEWHERE = "elsewhere:1:0:abc"
GONE = "gone:1:1:dead"


def test_running_answers_as_is_running_does_row_by_row(db, django_assert_num_queries):
    runtime.supervisor()  # its first use reconciles the rows: before they exist
    PlaygroundProcess.objects.create(name=ELSEWHERE, pid=1, beat_at=timezone.now())
    status = Sandbox.Status
    rows = [Sandbox.objects.create(name=name, port=40001 + i, owner_token="x",
                                   status=state, run_by=run_by)
            for i, (name, state, run_by) in enumerate((
                ("stopped", status.STOPPED, ELSEWHERE),
                ("elsewhere", status.RUNNING, ELSEWHERE),
                ("starting", status.STARTING, ELSEWHERE),
                ("gone", status.RUNNING, GONE),
                ("mine-without-child", status.RUNNING, heartbeat.me())))]

    with django_assert_num_queries(2):  # the live processes, then the rows
        found = runtime.running(Sandbox.objects.filter(owner_token="x").order_by("pk"))

    assert [s.name for s in found] == [s.name for s in rows if runtime.is_running(s)]
    assert [s.name for s in found] == ["elsewhere", "starting"]
