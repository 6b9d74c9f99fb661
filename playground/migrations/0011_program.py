"""Program sandboxes (issue 13, docs/program-sandboxes.md): what serves a sandbox's port
(``kind``: henaserver, or the learner's program behind the capture relay), the program's
main file and the starter it began from. Schema only: every existing row is a henaserver
sandbox. Database defaults, so a process of the release before, still running during a
rolling upgrade, can insert rows."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('playground', '0010_budgets'),
    ]

    operations = [
        migrations.AddField(
            model_name='sandbox',
            name='kind',
            field=models.CharField(
                choices=[('henaserver', 'Henaserver'), ('program', 'Program')],
                db_default='henaserver', default='henaserver', max_length=20),
        ),
        migrations.AddField(
            model_name='sandbox',
            name='main_file',
            field=models.CharField(db_default='main.py', default='main.py', max_length=255),
        ),
        migrations.AddField(
            model_name='sandbox',
            name='starter',
            field=models.CharField(blank=True, db_default='', default='', max_length=40),
        ),
    ]
