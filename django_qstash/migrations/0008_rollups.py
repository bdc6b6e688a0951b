# Rollups for the admin dashboard: per-minute activity, per-hour destinations.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_qstash', '0007_task_results'),
    ]

    operations = [
        migrations.CreateModel(
            name='Overview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
            options={
                'verbose_name': 'QStash overview',
                'verbose_name_plural': 'QStash overview',
                'managed': False,
                'default_permissions': (),
            },
        ),
        migrations.CreateModel(
            name='ActivityMinute',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('minute', models.DateTimeField()),
                ('shard', models.SmallIntegerField(default=0)),
                ('published', models.PositiveIntegerField(default=0)),
                ('delivered', models.PositiveIntegerField(default=0)),
                ('retried', models.PositiveIntegerField(default=0)),
                ('failed', models.PositiveIntegerField(default=0)),
                ('canceled', models.PositiveIntegerField(default=0)),
                ('wait_00', models.PositiveIntegerField(default=0)),
                ('wait_01', models.PositiveIntegerField(default=0)),
                ('wait_02', models.PositiveIntegerField(default=0)),
                ('wait_03', models.PositiveIntegerField(default=0)),
                ('wait_04', models.PositiveIntegerField(default=0)),
                ('wait_05', models.PositiveIntegerField(default=0)),
                ('wait_06', models.PositiveIntegerField(default=0)),
                ('wait_07', models.PositiveIntegerField(default=0)),
                ('wait_08', models.PositiveIntegerField(default=0)),
                ('wait_09', models.PositiveIntegerField(default=0)),
                ('wait_10', models.PositiveIntegerField(default=0)),
                ('wait_11', models.PositiveIntegerField(default=0)),
                ('wait_12', models.PositiveIntegerField(default=0)),
                ('wait_13', models.PositiveIntegerField(default=0)),
                ('wait_14', models.PositiveIntegerField(default=0)),
                ('wait_15', models.PositiveIntegerField(default=0)),
                ('done_00', models.PositiveIntegerField(default=0)),
                ('done_01', models.PositiveIntegerField(default=0)),
                ('done_02', models.PositiveIntegerField(default=0)),
                ('done_03', models.PositiveIntegerField(default=0)),
                ('done_04', models.PositiveIntegerField(default=0)),
                ('done_05', models.PositiveIntegerField(default=0)),
                ('done_06', models.PositiveIntegerField(default=0)),
                ('done_07', models.PositiveIntegerField(default=0)),
                ('done_08', models.PositiveIntegerField(default=0)),
                ('done_09', models.PositiveIntegerField(default=0)),
                ('done_10', models.PositiveIntegerField(default=0)),
                ('done_11', models.PositiveIntegerField(default=0)),
                ('done_12', models.PositiveIntegerField(default=0)),
                ('done_13', models.PositiveIntegerField(default=0)),
                ('done_14', models.PositiveIntegerField(default=0)),
                ('done_15', models.PositiveIntegerField(default=0)),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='django_qstash.tenant')),
            ],
            options={
                'indexes': [models.Index(fields=['minute'], name='qstash_activity_minute')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'minute', 'shard'), name='qstash_activity_minute_key')],
            },
        ),
        migrations.CreateModel(
            name='DestinationHour',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('origin', models.CharField(max_length=300)),
                ('shard', models.SmallIntegerField(default=0)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('errors', models.PositiveIntegerField(default=0)),
                ('failed', models.PositiveIntegerField(default=0)),
                ('duration_ms', models.BigIntegerField(default=0)),
                ('last_status', models.PositiveIntegerField(blank=True, null=True)),
                ('last_at', models.DateTimeField(blank=True, null=True)),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='django_qstash.tenant')),
            ],
            options={
                'indexes': [models.Index(fields=['hour'], name='qstash_destination_hour')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'hour', 'origin', 'shard'), name='qstash_destination_hour_key')],
            },
        ),
    ]
