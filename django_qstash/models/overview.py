"""No table: the admin lists the dashboard through this model, as "QStash overview"."""

from __future__ import annotations

from django.db import models


class Overview(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = verbose_name_plural = "QStash overview"
