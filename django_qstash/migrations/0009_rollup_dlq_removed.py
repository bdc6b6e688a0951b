"""Rollups count DLQ entries taken out (deleted, retried, expired)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_qstash', '0008_rollups'),
    ]

    operations = [
        migrations.AddField(
            model_name='activityhour',
            name='dlq_removed',
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='activityminute',
            name='dlq_removed',
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
    ]
