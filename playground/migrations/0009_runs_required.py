"""Runs, step 3 of 3 (see 0007_runs): every exchange now has its run (0008_runs_data),
so ``Exchange.run`` becomes NOT NULL."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("playground", "0008_runs_data")]

    operations = [
        migrations.AlterField(
            model_name="exchange", name="run",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                    related_name="exchanges", to="playground.run"),
        ),
    ]
