"""Results of tasks run through the django.tasks backend."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_qstash', '0006_flowcontrolkey_claimed_before_reset'),
    ]

    operations = [
        migrations.CreateModel(
            name='TaskResultRecord',
            fields=[
                ('id', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('backend', models.CharField(max_length=100)),
                ('task_path', models.CharField(max_length=500)),
                ('queue_name', models.CharField(max_length=200)),
                ('priority', models.IntegerField(default=0)),
                ('run_after', models.DateTimeField(blank=True, null=True)),
                ('args', models.JSONField(blank=True, default=list)),
                ('kwargs', models.JSONField(blank=True, default=dict)),
                ('status', models.CharField(choices=[('READY', 'Ready'), ('RUNNING', 'Running'), ('FAILED', 'Failed'), ('SUCCESSFUL', 'Successful')], default='READY', max_length=20)),
                ('enqueued_at', models.DateTimeField()),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('last_attempted_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('return_value', models.JSONField(blank=True, null=True)),
                ('errors', models.JSONField(blank=True, default=list)),
                ('worker_ids', models.JSONField(blank=True, default=list)),
                ('message_id', models.CharField(blank=True, default='', max_length=80)),
                ('message_ids', models.JSONField(blank=True, default=list)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='task_results', to='django_qstash.tenant')),
            ],
            options={
                'verbose_name': 'task result',
                'indexes': [models.Index(fields=['tenant', 'status', 'enqueued_at'], name='qstash_task_status'), models.Index(fields=['tenant', 'task_path', 'enqueued_at'], name='qstash_task_path'), models.Index(fields=['finished_at'], name='qstash_task_finished')],
            },
        ),
    ]
