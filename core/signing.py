"""Signed values for public links (unsubscribe) and forms (CSRF), with one secret key.

The key comes from ``REFERRALS_SECRET_KEY`` (or its Secret block); without one, a random key
is created once in the data folder (mode 0600), so a fresh demo needs no setup and links stay
valid across restarts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.secrets import secret_value
from core.settings import Settings


def secret_key(settings: Settings) -> str:
    configured = secret_value(settings.secret_key, settings.secret_key_block)
    if configured:
        return configured
    path = settings.data_dir / "secret_key"
    if not path.exists():
        _write_new_key(path)
    return path.read_text(encoding="utf-8").strip()


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48))


def sign(settings: Settings, purpose: str, value: str) -> str:
    """A URL-safe token carrying ``value`` for ``purpose`` (a token for one purpose is not
    valid for another)."""
    return URLSafeTimedSerializer(secret_key(settings), salt=purpose).dumps(value)


def unsign(settings: Settings, purpose: str, token: str, max_age: int | None = None) -> str | None:
    """The value a token carries, or None when it is forged, for another purpose, or older
    than ``max_age`` seconds."""
    try:
        value = URLSafeTimedSerializer(secret_key(settings), salt=purpose).loads(
            token, max_age=max_age
        )
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def unsubscribe_url(settings: Settings, email: str) -> str:
    token = sign(settings, "unsubscribe", email.lower())
    return f"{settings.public_url.rstrip('/')}/unsubscribe/{token}"
