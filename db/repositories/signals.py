"""Signal queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.orm import Session

from db.models import Account, Person, Signal
from db.repositories.arrays import one_of
from db.repositories.upsert import insert_ignoring_conflicts
from domain.signal_rows import SignalRow

CHUNK = 500  # values per IN list: well under SQLite's and PostgreSQL's parameter limits


def existing_by_external_id(session: Session, external_ids: Sequence[str]) -> dict[str, Signal]:
    rows = session.scalars(
        select(Signal).where(one_of(session, Signal.external_id, external_ids))
    ).all()
    return {row.external_id: row for row in rows}


def insert_new(session: Session, rows: Sequence[SignalRow], now: datetime) -> int:
    """Insert the rows not stored yet, linked at once to the accounts and people already known
    (two lookups per chunk); detect-moments links the others (``link_waiting``) once the
    sync has stored their account or person."""
    accounts = _ids_by(session, Account.crm_id, Account.id, {r.account_crm_id for r in rows})
    people = _ids_by(session, Person.email, Person.id, {r.person_email for r in rows})
    return insert_ignoring_conflicts(
        session,
        Signal.__table__,
        [
            {
                "external_id": r.external_id,
                "kind": r.kind,
                "source": r.source,
                "account_crm_id": r.account_crm_id,
                "person_email": r.person_email,
                "value": r.value,
                "text": r.text,
                "occurred_at": r.occurred_at,
                "ingested_at": now,
                "account_id": accounts.get(r.account_crm_id),
                "person_id": people.get(r.person_email) if r.person_email else None,
            }
            for r in rows
        ],
        ["external_id"],
    )


def _ids_by(session: Session, key: Any, ident: Any, values: set[Any]) -> dict[Any, int]:
    wanted = sorted(v for v in values if v)
    found: dict[Any, int] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(
            session.execute(select(key, ident).where(one_of(session, key, chunk))).tuples().all()
        )
    return found


def analyze(session: Session) -> None:
    """Refresh PostgreSQL's statistics of the signals table (a bulk ingest changes its shape
    faster than autovacuum notices); nothing to do on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE signals"))


def link_waiting(session: Session) -> int:
    """Fill in the account and the person of every signal that came before them (the sync
    stored them since), in one statement: each such signal gets one new row version, not one
    per id, and the sync never writes to ``signals``. detect-moments runs this first; only
    signals with an id to gain are touched (the conditions are cheap tests of the row before
    any look-up), so a steady day scans the table once and writes little. Returns how many
    signals changed."""
    account_id = select(Account.id).where(Account.crm_id == Signal.account_crm_id)
    person_id = select(Person.id).where(Person.email == Signal.person_email)
    waiting_account = and_(Signal.account_id.is_(None), account_id.exists())
    waiting_person = and_(
        Signal.person_id.is_(None), Signal.person_email.is_not(None), person_id.exists()
    )
    result = session.execute(
        update(Signal)
        .where(or_(waiting_account, waiting_person))
        .values(
            account_id=func.coalesce(Signal.account_id, account_id.scalar_subquery()),
            person_id=func.coalesce(Signal.person_id, person_id.scalar_subquery()),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def counts_by_kind(session: Session) -> dict[str, int]:
    rows = session.execute(select(Signal.kind, func.count()).group_by(Signal.kind)).all()
    return {str(kind): count for kind, count in rows}
