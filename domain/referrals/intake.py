"""What a captured intro must hold, from the landing page, a CSV row or the CLI. Pure.

Every field is untrusted: each problem is reported against its field (the page shows it next
to the field and keeps what was typed; a file names the row and field), never by echoing the
value back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.text import clean_text, normalise_domain, normalise_email

LIMITS = {"name": 200, "email": 320, "company": 300, "domain": 253, "role": 200, "note": 2000}
FIELDS = tuple(LIMITS)


@dataclass(frozen=True)
class Intake:
    """A referred company and its contact, cleaned."""

    company: str
    contact_email: str | None
    contact_name: str | None = None
    domain: str | None = None  # the company's domain: given, else the contact email's
    role: str | None = None
    note: str | None = None

    @property
    def first_name(self) -> str:
        return (self.contact_name or "").split(" ")[0]

    @property
    def last_name(self) -> str:
        parts = (self.contact_name or "").split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


def _text(raw: Mapping[str, Any], name: str) -> tuple[str, str | None]:
    value = raw.get(name)
    if value is None:
        return "", None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return "", "must be text"
    text = str(value)
    if "\x00" in text:
        return "", "holds a NUL character"
    if len(text) > LIMITS[name] * 4:  # far over: refuse before cleaning a huge value
        return "", f"is longer than {LIMITS[name]} characters"
    cleaned = clean_text(text, LIMITS[name] + 1)
    if len(cleaned) > LIMITS[name]:
        return "", f"is longer than {LIMITS[name]} characters"
    return cleaned, None


def validate_intake(
    raw: Mapping[str, Any], *, email_required: bool = True
) -> tuple[Intake | None, dict[str, str]]:
    """The intake, or None and a message per field (``name``, ``email``, ``company``,
    ``domain``, ``role``, ``note``)."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name in FIELDS:
        value, problem = _text(raw, name)
        if problem:
            errors[name] = problem
        values[name] = value
    if not values["company"] and "company" not in errors:
        errors["company"] = "is required"
    email = None
    if values["email"]:
        email = normalise_email(values["email"])
        if email is None:
            errors["email"] = "is not an email address"
    elif email_required and "email" not in errors:
        errors["email"] = "is required"
    domain = None
    if values["domain"]:
        domain = normalise_domain(values["domain"])
        if domain is None:
            errors["domain"] = "is not a domain name (such as acme.com)"
    elif email is not None:
        domain = normalise_domain(email.split("@", 1)[1])
    if errors:
        return None, errors
    return (
        Intake(
            company=values["company"],
            contact_email=email,
            contact_name=values["name"] or None,
            domain=domain,
            role=values["role"] or None,
            note=values["note"] or None,
        ),
        {},
    )
