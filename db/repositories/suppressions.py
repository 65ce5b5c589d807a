"""The suppression list: addresses nothing is sent to any more. Set-based; commits belong to
callers.

Addresses are stored and looked up lower-cased, so ``Ann@Example.com`` and
``ann@example.com`` are one person. The first reason recorded is kept: an address that
bounced and later also unsubscribed stays ``bounce``, which is what explains the first mail
that did not go out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import Suppression
from db.repositories.upsert import insert_ignoring_conflicts

SUPPRESSIONS = Suppression.__table__
# Bound parameters per statement stay far below every driver's limit.
CHUNK = 1000


class SuppressionEntry(Protocol):
    """What :func:`suppress` needs of an entry (a webhook event, a link click, a CLI line)."""

    @property
    def email(self) -> str: ...

    @property
    def reason(self) -> str: ...  # unsubscribe | group_unsubscribe | bounce | dropped | spamreport

    @property
    def source(self) -> str: ...  # link | sendgrid | cli

    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class NewSuppression:
    """A plain entry for callers that have no richer object of their own."""

    email: str
    reason: str
    source: str
    details: Mapping[str, Any] = field(default_factory=dict)


def _normalised(emails: Iterable[str]) -> list[str]:
    return sorted({e.strip().lower() for e in emails if e and e.strip()})


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def suppressed(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """The suppressed addresses among ``emails``: lower-cased address -> reason.

    One query for up to a thousand distinct addresses (a dispatcher batch).
    """
    found: dict[str, str] = {}
    for chunk in _chunks(_normalised(emails)):
        rows = session.execute(
            select(Suppression.email, Suppression.reason).where(Suppression.email.in_(chunk))
        )
        found.update({email: reason for email, reason in rows})
    return found


def suppress(session: Session, entries: Iterable[SuppressionEntry], now: datetime) -> int:
    """Add addresses to the list; one already there keeps its first reason. Returns how many
    were new. Repeating the same entries (a webhook delivered twice) changes nothing."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in entries:
        email = entry.email.strip().lower()
        if not email or email in rows:
            continue  # the first entry for an address wins, as in the table
        rows[email] = {
            "email": email,
            "reason": entry.reason,
            "source": entry.source,
            "details": dict(entry.details),
            "created_at": now,
        }
    values = list(rows.values())
    return sum(
        insert_ignoring_conflicts(session, SUPPRESSIONS, values[i : i + CHUNK], ["email"])
        for i in range(0, len(values), CHUNK)
    )


def unsuppress(session: Session, emails: Iterable[str]) -> int:
    """Take addresses off the list (a person asked to receive mail again); returns how many."""
    removed = 0
    for chunk in _chunks(_normalised(emails)):
        result = session.execute(
            delete(Suppression)
            .where(Suppression.email.in_(chunk))
            .execution_options(synchronize_session=False)
        )
        removed += result.rowcount or 0
    return removed
