"""Runs (models.Run), step 1 of 3: the table, and a nullable ``Exchange.run``.

Starting a sandbox no longer deletes its history; each start is a run and every
exchange belongs to one. The change is three migrations, each atomic on its own, so
that a failure or a Ctrl+C in any of them (SQLite is migrated at ``runserver`` start)
leaves the database as the previous one left it, and the next start carries on:

* 0007_runs: the schema, with ``Exchange.run`` nullable;
* 0008_runs_data: old exchanges become run 1 of their sandbox (a data step);
* 0009_runs_required: ``Exchange.run`` NOT NULL.

PostgreSQL refuses to ALTER a table with pending trigger events in the transaction
that made them (Django's docs on RunPython), hence the data step in its own migration.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("playground", "0006_life")]

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
    ]
