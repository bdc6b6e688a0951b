"""The dev server's admin login: made on request, remembered in its state file across restarts."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model

DEV_ADMIN_USERNAME = "admin"


@dataclass
class AdminLogin:
    username: str
    password: str


def remembered(state_file: Path) -> AdminLogin | None:
    stored = json.loads(state_file.read_text()) if state_file.exists() else {}
    login = stored.get("admin")
    return AdminLogin(**login) if isinstance(login, dict) else None


def ensure_admin_login(state_file: Path) -> AdminLogin:
    """A superuser whose password is the one in the state file: created, or reset if someone
    changed it, so the printed login always works."""
    login = remembered(state_file) or AdminLogin(DEV_ADMIN_USERNAME, secrets.token_urlsafe(12))
    users = get_user_model()
    user = users.objects.filter(**{users.USERNAME_FIELD: login.username}).first()
    if user is None:
        user = users.objects.create_superuser(login.username, email="", password=login.password)
    elif not (user.is_superuser and user.is_active and user.check_password(login.password)):
        user.is_superuser = user.is_staff = user.is_active = True
        user.set_password(login.password)
        user.save()
    stored = json.loads(state_file.read_text()) if state_file.exists() else {}
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({**stored, "admin": login.__dict__}))
    state_file.chmod(0o600)
    return login
