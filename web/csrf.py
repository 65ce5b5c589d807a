"""CSRF protection for the forms: a signed double-submit token.

The browser gets a random value in a cookie; the form carries that value signed with the app's
secret key. A post is accepted only when the form's token verifies and carries the cookie's
value, so another site can neither read the token nor mint one for a cookie it planted.
"""

from __future__ import annotations

import hmac
import re
import secrets

from fastapi import Request, Response

from core.settings import Settings
from core.signing import sign, unsign

FIELD = "csrf_token"
PURPOSE = "csrf"
MAX_AGE_SECONDS = 12 * 3600  # long enough for a form left open over lunch, not for ever
_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def cookie_name(settings: Settings) -> str:
    # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and
    # for "/", so a sibling subdomain cannot plant one; it needs HTTPS.
    return "__Host-referrals_csrf" if _secure(settings) else "referrals_csrf"


def _secure(settings: Settings) -> bool:
    return settings.public_url.lower().startswith("https://")


def cookie_value(settings: Settings, request: Request) -> str:
    """The visitor's cookie value, or a new one (set it with ``remember``)."""
    value = request.cookies.get(cookie_name(settings), "")
    return value if _VALUE.match(value) else secrets.token_urlsafe(32)


def form_token(settings: Settings, value: str) -> str:
    return sign(settings, PURPOSE, value)


def remember(settings: Settings, response: Response, value: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        value,
        max_age=MAX_AGE_SECONDS,
        path="/",
        secure=_secure(settings),
        httponly=True,
        samesite="lax",
    )


def is_valid(settings: Settings, request: Request, token: object) -> bool:
    """True when the posted token is ours, fresh, and made for this visitor's cookie."""
    cookie = request.cookies.get(cookie_name(settings), "")
    if not isinstance(token, str) or not token or not _VALUE.match(cookie):
        return False
    carried = unsign(settings, PURPOSE, token, max_age=MAX_AGE_SECONDS)
    return carried is not None and hmac.compare_digest(carried, cookie)
