"""Flow-control keys remember the messages claimed when their rate window was last reset."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("django_qstash", "0005_tenant_indexes_covered"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowcontrolkey",
            name="claimed_before_reset",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
