"""Check my server (issue 14, docs/checks.md): check runs, the ports their connections
came from (so ingest can label those exchanges), and each exchange's check label.
Schema only; db_default on the new Exchange column, so a process of the release before,
still running during a rolling upgrade, can insert rows."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('playground', '0012_merge_program_relay'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='exchange',
            name='check_label',
            field=models.CharField(blank=True, db_default='', default='', max_length=12),
        ),
        migrations.CreateModel(
            name='CheckRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name='ID')),
                ('owner_token', models.CharField(blank=True, db_index=True, max_length=64)),
                ('number', models.PositiveIntegerField()),
                ('state', models.CharField(
                    choices=[('running', 'Running'), ('passed', 'Passed'), ('failed', 'Failed'),
                             ('stopped', 'Stopped'), ('interrupted', 'Interrupted')],
                    default='running', max_length=12)),
                ('through', models.PositiveSmallIntegerField()),
                ('reached', models.PositiveSmallIntegerField(default=0)),
                ('results', models.JSONField(blank=True, default=list)),
                ('message', models.CharField(blank=True, max_length=500)),
                ('message_params', models.JSONField(blank=True, default=dict)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('run_by', models.CharField(blank=True, max_length=100)),
                ('stop_requested', models.BooleanField(default=False)),
                ('sandbox', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name='check_runs',
                                              to='playground.sandbox')),
                ('user', models.ForeignKey(blank=True, null=True,
                                           on_delete=django.db.models.deletion.CASCADE,
                                           related_name='check_runs',
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['sandbox', 'number'],
            },
        ),
        migrations.CreateModel(
            name='CheckPort',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name='ID')),
                ('port', models.PositiveIntegerField()),
                ('label', models.CharField(max_length=12)),
                ('sandbox', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name='+', to='playground.sandbox')),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                          related_name='ports', to='playground.checkrun')),
            ],
        ),
        migrations.AddConstraint(
            model_name='checkrun',
            constraint=models.UniqueConstraint(fields=('sandbox', 'number'),
                                               name='check_run_number_unique'),
        ),
        migrations.AddConstraint(
            model_name='checkrun',
            constraint=models.UniqueConstraint(condition=models.Q(('state', 'running')),
                                               fields=('sandbox',),
                                               name='one_running_check_per_sandbox'),
        ),
        migrations.AddIndex(
            model_name='checkport',
            index=models.Index(fields=['sandbox', 'port'], name='check_port_lookup'),
        ),
    ]
