"""Runs (models.Run): starting a sandbox no longer deletes its history; each start is a
run and every exchange belongs to one. Exchanges stored before this migration become
run 1 of their sandbox (one run per sandbox that has rows), closed unless the sandbox is
live, with its counters such that served = stored + removed + not recorded.

Non-atomic as a whole, so that the data step runs in its own transaction between the
two schema steps (PostgreSQL refuses to ALTER a table with pending trigger events in
the same transaction, Django's docs on RunPython)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def forwards(apps, schema_editor):
    Sandbox = apps.get_model("playground", "Sandbox")
    Exchange = apps.get_model("playground", "Exchange")
    Run = apps.get_model("playground", "Run")
    for sandbox in Sandbox.objects.filter(exchanges__isnull=False).distinct():
        rows = Exchange.objects.filter(sandbox=sandbox)
        stored = rows.count()
        first = rows.order_by("seq").values_list("seq", flat=True).first()
        live = sandbox.status in ("starting", "running")
        run = Run.objects.create(
            sandbox=sandbox, number=1, mode=sandbox.mode,
            started_at=sandbox.started_at or sandbox.created_at,
            ended_at=None if live else (sandbox.stopped_at or django.utils.timezone.now()),
            # The old rows are what the old retention and sampling left of the last run:
            # the rest of what the server counted was removed by them.
            served=max(sandbox.requests, stored), stored=stored,
            removed=max(sandbox.requests, stored) - stored,
            seq_base=first - 1, last_number=sandbox.last_seq - first + 1)
        Exchange.objects.filter(sandbox=sandbox).update(run=run)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("playground", "0005_messages_as_data")]

    operations = [
        migrations.CreateModel(
            name="Run",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                ("mode", models.CharField(max_length=20)),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                ("message", models.CharField(blank=True, max_length=500)),
                ("message_params", models.JSONField(blank=True, default=dict)),
                ("served", models.BigIntegerField(default=0)),
                ("stored", models.BigIntegerField(default=0)),
                ("removed", models.BigIntegerField(default=0)),
                ("lost", models.JSONField(blank=True, default=dict)),
                ("last_number", models.BigIntegerField(default=0)),
                ("seq_base", models.BigIntegerField(default=0)),
                ("sandbox", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="runs",
                    to="playground.sandbox")),
            ],
            options={"ordering": ["sandbox", "number"]},
        ),
        migrations.AddConstraint(
            model_name="run",
            constraint=models.UniqueConstraint(fields=("sandbox", "number"),
                                               name="run_number_unique"),
        ),
        migrations.AddField(
            model_name="exchange", name="run",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="exchanges", to="playground.run"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop, atomic=True),
        migrations.AlterField(
            model_name="exchange", name="run",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                    related_name="exchanges", to="playground.run"),
        ),
    ]
