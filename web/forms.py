"""What the referral forms post, and how it is shown back: labels, values kept as typed,
one message per field, and the attribution carried by the link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from domain.referrals.intake import LIMITS
from domain.text import clean_text

FORM_FIELDS = ("name", "email", "company", "role", "note")
LABELS = {
    "code": "Referral code",
    "name": "Your name",
    "email": "Work email",
    "company": "Company",
    "role": "Role",
    "note": "Anything we should know?",
    "domain": "Company website",
}
HONEYPOT = "website"  # bots fill a field with a name like this; people never see it
UNKNOWN_CODE = "was not recognised: check the code and try again"
# Query parameters a link may carry into the referral's attribution (never personal data).
ATTRIBUTION_KEYS = ("src", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
CODE_LIMIT = 40  # a code with dashes and spaces as people type it


@dataclass
class FormState:
    """The form as the page shows it: what was typed, and a message per field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def message(self, name: str) -> str | None:
        problem = self.errors.get(name)
        return f"{LABELS.get(name, name)} {problem}" if problem else None


def typed_values(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """Each field as typed (to show it back), capped so a page never echoes a huge value."""
    values = {}
    for name in names:
        value = form.get(name)
        limit = LIMITS.get(name, CODE_LIMIT)
        values[name] = value[: limit * 4] if isinstance(value, str) else ""
    return values


def honeypot_filled(form: Mapping[str, Any]) -> bool:
    value = form.get(HONEYPOT)
    if value is None:  # a client that leaves the field out is not a form-filling bot
        return False
    return not isinstance(value, str) or bool(value.strip())


def attribution(query: Mapping[str, str]) -> dict[str, str]:
    """The link's own tracking parameters, cleaned and capped; anything else is dropped."""
    kept = {key: clean_text(query.get(key, ""), 100) for key in ATTRIBUTION_KEYS}
    return {key: value for key, value in kept.items() if value}


def query_string(query: Mapping[str, str]) -> str:
    """The attribution parameters again, for the form's action (so a post keeps them)."""
    kept = attribution(query)
    return f"?{urlencode(kept)}" if kept else ""
