"""One-click unsubscribe: a signed link in every referrer email puts its address on the
suppression list (RFC 8058: a POST does it without a page; a GET shows a confirmation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.signing import unsign
from db.engine import transaction
from db.repositories.suppressions import NewSuppression, suppress


def email_of(settings: Settings, token: str) -> str | None:
    """The address a token unsubscribes, or None for a forged or foreign token."""
    return unsign(settings, "unsubscribe", token)


def unsubscribe(
    factory: sessionmaker[Session], settings: Settings, token: str, now: datetime
) -> bool:
    """Suppress the token's address (again is fine); False for a token that is not ours."""
    email = email_of(settings, token)
    if email is None:
        return False
    with transaction(factory) as session:
        suppress(session, [NewSuppression(email, "unsubscribe", "link")], now)
    return True
