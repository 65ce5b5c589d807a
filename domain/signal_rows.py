"""Validation of one incoming signal row (CSV, JSON lines, CLI). Pure: no I/O.

Rows are untrusted: any type, any character, any length. Each problem names its field and
what the field accepts, never the value itself: a value may be personal data (an email
address), unprintable, or a megabyte long. The caller adds the line so a person can fix the
file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from domain.clock import parse_instant
from domain.display import printable
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
COMPARED = ("kind", "account_crm_id", "person_email", "value", "text", "occurred_at")
"""The stored facts, in the order of ``SignalRow.comparable``."""
MAX_LENGTH = {"external_id": 200, "account_crm_id": 64, "person_email": 320, "text": 5000}
MAX_TEXT = MAX_LENGTH["text"]
MAX_VALUE = Decimal(10) ** 12
_MAX_NUMBER_TEXT = 40  # longer than any number the value column accepts

_KINDS = ", ".join(k.value for k in SignalKind)
_SOURCES = ", ".join(s.value for s in SignalSource)
_NUMBER = "a number with at most 2 decimals and 12 digits before the point"
ACCEPTS: dict[str, str] = {
    "external_id": "text of up to 200 characters, unique per signal",
    "kind": f"one of {_KINDS}",
    "account_crm_id": "the account's CRM id, text of up to 64 characters",
    "person_email": "an email address (optional)",
    "value": f"{_NUMBER} (required for nps: 0 to 10, csat: 1 to 5, whole numbers)",
    "text": f"text of up to {MAX_TEXT} characters (optional)",
    "occurred_at": "an ISO 8601 time with a zone (2026-02-01T09:30:00Z, +01:00) or a date "
    "(midnight UTC), from 1900 to 2199",
    "source": f"one of {_SOURCES} (optional; default file)",
}
"""What each column accepts: quoted in error messages and in the README."""


class RowProblem(NamedTuple):
    """One problem with a row: a field's, or the whole row's when ``field`` is None."""

    field: str | None
    message: str

    def __str__(self) -> str:
        return f"field '{self.field}': {self.message}" if self.field else self.message


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


def parse_signal_row(
    raw: Mapping[str, Any], default_source: SignalSource = SignalSource.FILE
) -> tuple[SignalRow | None, list[RowProblem]]:
    """The validated row, or None and every problem found in it."""
    columns = ", ".join(FIELDS)
    problems = [
        RowProblem(printable(str(name)), f"unknown column (the columns are {columns})")
        for name in raw
        if name not in FIELDS
    ]
    values: dict[str, str | None] = {}
    for name in FIELDS:
        values[name], problem = _text_of(name, raw.get(name))
        if problem:
            problems.append(RowProblem(name, problem))
        elif values[name] is None and name in REQUIRED:
            problems.append(RowProblem(name, f"is required: {ACCEPTS[name]}"))
    checked = {name: _checked(name, values[name], default_source) for name in FIELDS}
    problems += [RowProblem(name, msg) for name, (_, msg) in checked.items() if msg]
    kind = checked["kind"][0]
    if kind in SCORED_KINDS and not any(p.field == "value" for p in problems):
        problems += _score_problems(kind, checked["value"][0])
    if problems:
        return None, problems
    fields = {name: result for name, (result, _) in checked.items()}
    return SignalRow(**fields), []


def _text_of(name: str, value: Any) -> tuple[str | None, str | None]:
    """A field as stripped text (None when blank), or a problem with its characters."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None, f"must be text or a number, not {_json_type(value)}"
    text = str(value).strip()
    if text.isascii():  # the usual case, checked without a pass per character
        if text.isprintable() or (name == "text" and "\x00" not in text):
            return text or None, None
        if "\x00" in text:
            return None, "contains a NUL character"
        return None, "contains a control character (a line break, tab, ...)"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):  # undecodable bytes, or a "\ud800" escape
        return None, "is not valid UTF-8 text (save the file as UTF-8)"
    if "\x00" in text:
        return None, "contains a NUL character"
    if name != "text" and any(unicodedata.category(c) == "Cc" for c in text):
        return None, "contains a control character (a line break, tab, ...)"
    return text or None, None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _checked(name: str, text: str | None, default_source: SignalSource) -> tuple[Any, str | None]:
    """The field's typed value and the problem with it, if any; None/None when absent."""
    if text is None:
        return (default_source if name == "source" else None), None
    limit = MAX_LENGTH.get(name)
    if limit is not None and len(text) > limit:
        return None, f"is longer than {limit} characters"
    if name == "kind":
        return _member(SignalKind, text, ACCEPTS["kind"])
    if name == "source":
        return _member(SignalSource, text, ACCEPTS["source"])
    if name == "person_email":
        email = text.lower()
        return (email, None) if EMAIL_RE.match(email) else (None, "is not an email address")
    if name == "value":
        return _number(text)
    if name == "occurred_at":
        try:
            return parse_instant(text), None
        except ValueError as error:
            return None, str(error)
    return text, None


def _member(enum: type[SignalKind] | type[SignalSource], text: str, accepts: str) -> Any:
    try:
        return enum(text.lower()), None
    except ValueError:
        return None, f"is not {accepts}"


def _number(text: str) -> tuple[Decimal | None, str | None]:
    try:
        if len(text) > _MAX_NUMBER_TEXT:
            raise InvalidOperation
        value = Decimal(text)
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        return None, f"is not {_NUMBER}"
    if abs(value) >= MAX_VALUE or value != value.quantize(Decimal("0.01")):
        return None, f"is not {_NUMBER}"
    return value, None


def _score_problems(kind: SignalKind, value: Decimal | None) -> list[RowProblem]:
    low, high = SCORED_KINDS[kind]
    if value is None:
        whole = f"a whole number from {low} to {high}"
        return [RowProblem("value", f"is required for {kind.value}: {whole}")]
    if low <= value <= high and value == value.to_integral():
        return []
    return [RowProblem("value", f"{kind.value} needs a whole number from {low} to {high}")]
