"""Tenant.account_id: the UserID inside encoded tokens, unique per tenant."""

from django.db import migrations, models

import django_qstash.core.api_tokens


def give_each_tenant_an_account_id(apps, schema_editor):
    Tenant = apps.get_model("django_qstash", "Tenant")
    for tenant in Tenant.objects.filter(account_id__isnull=True):
        tenant.account_id = django_qstash.core.api_tokens.new_account_id()
        tenant.save(update_fields=["account_id"])


class Migration(migrations.Migration):

    dependencies = [
        ("django_qstash", "0010_workflow_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="account_id",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(give_each_tenant_an_account_id, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="tenant",
            name="account_id",
            field=models.CharField(default=django_qstash.core.api_tokens.new_account_id,
                                   editable=False, max_length=64, unique=True),
        ),
    ]
