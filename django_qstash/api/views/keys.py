"""GET /v2/keys and POST /v2/keys/rotate: the tenant's signing keys."""

from __future__ import annotations

from django.db import transaction
from rest_framework.response import Response

from django_qstash.api.authentication import HasReadWriteToken
from django_qstash.api.base import QStashView
from django_qstash.models import SigningKeyPair


class SigningKeysView(QStashView):
    permission_classes = [HasReadWriteToken]

    def get(self, request):
        keys = SigningKeyPair.for_tenant(self.tenant)
        return Response({"current": keys.current, "next": keys.next})


class RotateSigningKeysView(QStashView):
    def post(self, request):
        with transaction.atomic():
            SigningKeyPair.for_tenant(self.tenant)
            keys = SigningKeyPair.objects.select_for_update().get(tenant=self.tenant)
            keys.rotate()
        return Response({"current": keys.current, "next": keys.next})
