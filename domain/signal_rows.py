"""Validation of one incoming signal row (CSV, JSON lines, CLI). Pure: no I/O.

Rows are untrusted. Each problem is reported as ``field 'name': message`` so the caller can
prefix the row number and a person can fix the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.clock import parse_instant
from domain.signals import SCORED_KINDS, SignalKind, SignalSource

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FIELDS = (
    "external_id",
    "kind",
    "account_crm_id",
    "person_email",
    "value",
    "text",
    "occurred_at",
    "source",
)
REQUIRED = ("external_id", "kind", "account_crm_id", "occurred_at")
MAX_TEXT = 5000
MAX_VALUE = Decimal(10) ** 12


@dataclass(frozen=True)
class SignalRow:
    external_id: str
    kind: SignalKind
    account_crm_id: str
    person_email: str | None
    value: Decimal | None
    text: str | None
    occurred_at: datetime
    source: SignalSource

    def comparable(self) -> tuple[Any, ...]:
        """The stored facts, to tell a harmless re-import from a conflicting one."""
        return (
            self.kind,
            self.account_crm_id,
            self.person_email,
            self.value,
            self.text,
            self.occurred_at,
        )


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_signal_row(
    raw: Mapping[str, Any], default_source: SignalSource = SignalSource.FILE
) -> tuple[SignalRow | None, list[str]]:
    """The validated row, or None and every problem found in it."""
    errors: list[str] = []
    unknown = sorted(set(raw) - set(FIELDS))
    errors += [f"field '{name}': unknown column" for name in unknown]
    values = {name: _clean(raw.get(name)) for name in FIELDS}
    errors += [f"field '{name}': is required" for name in REQUIRED if values[name] is None]

    external_id = values["external_id"]
    if external_id and len(external_id) > 200:
        errors.append("field 'external_id': longer than 200 characters")
    account = values["account_crm_id"]
    if account and len(account) > 64:
        errors.append("field 'account_crm_id': longer than 64 characters")

    kind: SignalKind | None = None
    if values["kind"] is not None:
        try:
            kind = SignalKind(values["kind"].lower())
        except ValueError:
            errors.append(
                f"field 'kind': '{values['kind']}' is not one of "
                f"{', '.join(k.value for k in SignalKind)}"
            )

    source = default_source
    if values["source"] is not None:
        try:
            source = SignalSource(values["source"].lower())
        except ValueError:
            errors.append(
                f"field 'source': must be one of {', '.join(s.value for s in SignalSource)}"
            )

    email = values["person_email"]
    if email is not None:
        email = email.lower()
        if not EMAIL_RE.match(email) or len(email) > 320:
            errors.append(f"field 'person_email': '{email}' is not an email address")

    value: Decimal | None = None
    if values["value"] is not None:
        try:
            value = Decimal(values["value"])
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            errors.append(f"field 'value': '{values['value']}' is not a number")
            value = None
        else:
            if abs(value) >= MAX_VALUE or value != value.quantize(Decimal("0.01")):
                errors.append(
                    f"field 'value': '{values['value']}' needs at most 2 decimals and "
                    "12 digits before the point"
                )
                value = None
    if kind in SCORED_KINDS:
        low, high = SCORED_KINDS[kind]
        if value is None and values["value"] is None:
            errors.append(f"field 'value': is required for {kind.value}")
        elif value is not None and not (low <= value <= high and value == value.to_integral()):
            errors.append(
                f"field 'value': {kind.value} must be a whole number from {low} to {high}"
            )

    text = values["text"]
    if text is not None and len(text) > MAX_TEXT:
        errors.append(f"field 'text': longer than {MAX_TEXT} characters")

    occurred_at: datetime | None = None
    if values["occurred_at"] is not None:
        try:
            occurred_at = parse_instant(values["occurred_at"])
        except ValueError as error:
            errors.append(f"field 'occurred_at': {error}")

    if errors:
        return None, errors
    assert external_id and kind and account and occurred_at
    return SignalRow(external_id, kind, account, email, value, text, occurred_at, source), []
