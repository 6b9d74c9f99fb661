"""The capture relay in the playground (issue 13): an exchange's ``mistake`` (what the
learner's own server did wrong, "" from henaserver; a database default so rows inserted
by the release before still get one) and the relay's ``stream`` records (bytes that
belong to no exchange). Schema only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('playground', '0010_budgets'),
    ]

    operations = [
        migrations.AddField(
            model_name='exchange',
            name='mistake',
            field=models.CharField(blank=True, db_default='', default='', max_length=40),
        ),
        migrations.CreateModel(
            name='StreamRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name='ID')),
                ('conn', models.IntegerField()),
                ('direction', models.CharField(max_length=10)),
                ('reason', models.CharField(blank=True, max_length=300)),
                ('data', models.BinaryField()),
                ('length', models.BigIntegerField()),
                ('truncated', models.BooleanField(default=False)),
                ('time_us', models.BigIntegerField()),
                ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                          related_name='streams', to='playground.run')),
                ('sandbox', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name='streams',
                                              to='playground.sandbox')),
            ],
            options={
                'ordering': ['sandbox', 'id'],
            },
        ),
    ]
