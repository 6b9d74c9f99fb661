"""Budgets and culling (issue 12): the address that created a sandbox, when a viewer
last watched it, when its anonymous owner was last seen (sandboxes/budgets.py,
presence.py, culling.py), and its wider IPv6 block. The address columns have a
database default, so a process of the release before, still running during a rolling
upgrade, can insert rows. Schema only: existing rows start with none of them, and the
culler starts an existing row's "seen" clock at its first round, never at creation."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('playground', '0009_runs_required'),
    ]

    operations = [
        migrations.AddField(
            model_name='sandbox',
            name='client_address',
            field=models.CharField(blank=True, db_index=True, db_default='', default='',
                                   max_length=64),
        ),
        migrations.AddField(
            model_name='sandbox',
            name='client_network',
            field=models.CharField(blank=True, db_index=True, db_default='', default='',
                                   max_length=64),
        ),
        migrations.AddField(
            model_name='sandbox',
            name='seen_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='sandbox',
            name='viewed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
