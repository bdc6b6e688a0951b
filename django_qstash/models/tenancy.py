"""Tenants, their hashed API tokens and their signing keys."""

from __future__ import annotations

import hashlib

from django.db import models
from django.dispatch import Signal

from django_qstash.core import api_tokens, clock
from django_qstash.core.signing import generate_signing_key


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Tenant(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # The UserID inside its tokens: names the tenant in webhook URLs, which carry no token.
    account_id = models.CharField(max_length=64, unique=True, default=api_tokens.new_account_id,
                                  editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


# A queryset update sends no post_save: whoever caches tokens listens to this instead.
tokens_revoked = Signal()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def revoke(self) -> int:
        """Revoke these tokens now; this process forgets cached ones at once (no signal fires
        for a queryset update)."""
        revoked = self.filter(revoked_at__isnull=True).update(revoked_at=clock.now())
        tokens_revoked.send(sender=ApiToken)
        return revoked


class ApiToken(models.Model):
    """Only a SHA-256 of the secret is stored; the secret is shown once, at creation."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, blank=True, default="")
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.tenant})"

    @classmethod
    def issue(cls, tenant: Tenant, *, name: str = "", read_only: bool = False,
              raw: str | None = None) -> tuple["ApiToken", str]:
        secret = raw or api_tokens.mint(tenant.account_id)
        token = cls.objects.create(tenant=tenant, name=name, read_only=read_only,
                                   token_hash=hash_token(secret),
                                   prefix=api_tokens.shown_prefix(secret))
        return token, secret


class SigningKeyPair(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="signing_keys")
    current = models.CharField(max_length=100)
    next = models.CharField(max_length=100)
    rotated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"signing keys of {self.tenant}"

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "SigningKeyPair":
        pair, _ = cls.objects.get_or_create(
            tenant=tenant,
            defaults={"current": generate_signing_key(), "next": generate_signing_key()},
        )
        return pair

    def rotate(self) -> None:
        """QStash rotation: next becomes current, a fresh key becomes next."""
        self.current, self.next = self.next, generate_signing_key()
        self.save(update_fields=["current", "next", "rotated_at"])
