# Sandbox modes (henaserver --mode), the fixed response's bytes and the response rules.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("playground", "0002_traffic"),
    ]

    operations = [
        migrations.AddField(
            model_name="sandbox",
            name="mode",
            field=models.CharField(default="full", max_length=20),
        ),
        migrations.AddField(
            model_name="sandbox",
            name="fixed_response",
            field=models.BinaryField(blank=True, default=b""),
        ),
        migrations.AddField(
            model_name="sandbox",
            name="rules",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
