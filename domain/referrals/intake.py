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


REFERRAL_COLUMNS = (
    "referrer_email",
    "company",
    "domain",
    "contact_email",
    "contact_name",
    "role",
    "note",
    "channel",
    "referrer_type",
    "industry",
    "ask_id",
    "external_id",
)
FILE_CHANNELS = ("sales_assisted", "email_intro")


@dataclass(frozen=True)
class ReferralRow:
    """A sales-assisted intro from a file or the command line."""

    referrer_email: str
    intake: Intake
    channel: str = "sales_assisted"
    referrer_type: str | None = None
    industry: str | None = None
    ask_id: int | None = None
    external_id: str | None = None


def parse_referral_row(raw: Mapping[str, Any]) -> tuple[ReferralRow | None, list[str]]:
    """A row of a referrals file; every problem as ``field 'name': message``."""
    errors = [f"field '{k}': unknown column" for k in sorted(set(raw) - set(REFERRAL_COLUMNS))]
    referrer = normalise_email(raw.get("referrer_email"))
    if referrer is None:
        errors.append("field 'referrer_email': is missing or not an email address")
    fields = {
        "name": raw.get("contact_name"),
        "email": raw.get("contact_email"),
        "company": raw.get("company"),
        "domain": raw.get("domain"),
        "role": raw.get("role"),
        "note": raw.get("note"),
    }
    intake, problems = validate_intake(fields, email_required=False)
    renamed = {"name": "contact_name", "email": "contact_email"}
    errors += [f"field '{renamed.get(k, k)}': {m}" for k, m in problems.items()]
    channel = clean_text(raw.get("channel"), 32).lower() or "sales_assisted"
    if channel not in FILE_CHANNELS:
        errors.append(f"field 'channel': must be one of {', '.join(FILE_CHANNELS)}")
    ask_text = clean_text(raw.get("ask_id"), 20)
    # isdigit() alone takes "²" and other digits int() refuses; an id fits 32 bits.
    if ask_text and not (ask_text.isascii() and ask_text.isdigit() and int(ask_text) < 2**31):
        errors.append("field 'ask_id': must be a whole number (an ask's id)")
    external = clean_text(raw.get("external_id"), 201)
    if len(external) > 200:
        errors.append("field 'external_id': is longer than 200 characters")
    if errors or intake is None or referrer is None:
        return None, errors
    return (
        ReferralRow(
            referrer_email=referrer,
            intake=intake,
            channel=channel,
            referrer_type=clean_text(raw.get("referrer_type"), 32) or None,
            industry=clean_text(raw.get("industry"), 128) or None,
            ask_id=int(ask_text) if ask_text else None,
            external_id=external or None,
        ),
        [],
    )
