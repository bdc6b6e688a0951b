"""Message and event tenants need no index of their own: every other index starts with them."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_qstash', '0004_drop_pattern_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='event',
            name='tenant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='django_qstash.tenant'),
        ),
        migrations.AlterField(
            model_name='message',
            name='tenant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='django_qstash.tenant'),
        ),
    ]
