"""Runs, step 2 of 3 (see 0007_runs): exchanges stored before runs existed become run 1
of their sandbox (one run per sandbox that has rows), closed unless the sandbox is live,
with counts such that served = stored + removed + not recorded.

Atomic: interrupted (an error, a Ctrl+C), it leaves no run and no exchange changed, and
the next ``migrate`` (or runserver start) runs it again from the beginning.

What the old rows tell about the last run before this version:

* ``requests``: what its server served (henaserver's own count);
* seqs between the first stored row and ``last_seq`` that have no row: the old ingest's
  sampling of a flood (each such exchange took a seq, and was not stored), and
  ``events_dropped`` / ``ingest_dropped``: dropped by henaserver's or the playground's
  queue. None of these was stored, so all are not recorded, under their own reason
  (``LOST_BEFORE_RUNS``), not "removed to stay within the limit";
* the rest, before the first stored row: removed by the old retention (oldest first).
"""

import django.utils.timezone
from django.db import migrations

# traffic/runs.py REASONS has its label. Written out here: a migration must not change
# meaning when the code it would import does.
LOST_BEFORE_RUNS = "earlier_version"


def forwards(apps, schema_editor):
    Sandbox = apps.get_model("playground", "Sandbox")
    Exchange = apps.get_model("playground", "Exchange")
    Run = apps.get_model("playground", "Run")
    # Only exchanges with no run yet: a database that applied the first, single-step
    # 0007_runs (before the split) has none, and this step does nothing there.
    for sandbox in Sandbox.objects.filter(exchanges__isnull=False,
                                          exchanges__run__isnull=True).distinct():
        rows = Exchange.objects.filter(sandbox=sandbox, run__isnull=True)
        stored = rows.count()
        first = rows.order_by("seq").values_list("seq", flat=True).first()
        span = max(sandbox.last_seq, first + stored - 1) - first + 1
        holes = span - stored
        lost = holes + sandbox.events_dropped + sandbox.ingest_dropped
        served = max(sandbox.requests, stored + lost)
        live = sandbox.status in ("starting", "running")
        run = Run.objects.create(
            sandbox=sandbox, number=1, mode=sandbox.mode,
            started_at=sandbox.started_at or sandbox.created_at,
            ended_at=None if live else (sandbox.stopped_at or django.utils.timezone.now()),
            served=served, stored=stored, removed=served - stored - lost,
            lost={LOST_BEFORE_RUNS: lost} if lost else {},
            seq_base=first - 1, last_number=span)
        rows.update(run=run)


class Migration(migrations.Migration):
    dependencies = [("playground", "0007_runs")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
