"""The claim-time rate log of flow-control keys, apart from the send-time one."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("django_qstash", "0002_admin_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="flowcontrolkey",
            name="recent_claims",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
