"""Signal queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
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
    (two lookups per chunk); the sync links the others when their account or person comes."""
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


def link_to_accounts(session: Session, account_crm_ids: Sequence[str]) -> int:
    """Link the signals of these (just stored) accounts that were waiting for them. Only their
    signals are touched: a signal whose account never comes is not rescanned page after
    page."""
    account_id = select(Account.id).where(Account.crm_id == Signal.account_crm_id)
    return _link(session, Signal.account_crm_id, "account_id", account_id, account_crm_ids)


def link_to_people(session: Session, emails: Sequence[str]) -> int:
    """Link the signals naming these people's (just stored) emails that were waiting."""
    person_id = select(Person.id).where(Person.email == Signal.person_email)
    return _link(session, Signal.person_email, "person_id", person_id, emails)


def _link(session: Session, key: Any, target: str, found: Any, values: Sequence[str]) -> int:
    """Set ``target`` where it is still empty on the signals whose ``key`` is in ``values``,
    from the correlated ``found`` query; in chunks of ``CHUNK`` values."""
    linked = 0
    column = getattr(Signal, target)
    for start in range(0, len(values), CHUNK):
        statement = (
            update(Signal)
            .where(one_of(session, key, values[start : start + CHUNK]), column.is_(None))
            .values({target: found.scalar_subquery()})
            .execution_options(synchronize_session=False)
        )
        linked += session.execute(statement).rowcount or 0
    return linked


def analyze(session: Session) -> None:
    """Refresh PostgreSQL's statistics of the signals table (a bulk ingest changes its shape
    faster than autovacuum notices); nothing to do on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE signals"))


def emails_of(session: Session, person_crm_ids: Sequence[str]) -> list[str]:
    found = _ids_by(session, Person.crm_id, Person.email, set(person_crm_ids))
    return sorted(email for email in found.values() if email)


def link_to_accounts_and_people(session: Session) -> int:
    """Every signal whose account/person is known now: a repair for data stored before
    linking was incremental (`referrals` never needs it in a normal run)."""
    account_id = select(Account.id).where(Account.crm_id == Signal.account_crm_id).scalar_subquery()
    person_id = select(Person.id).where(Person.email == Signal.person_email).scalar_subquery()
    linked = session.execute(
        update(Signal)
        .where(Signal.account_id.is_(None), account_id.is_not(None))
        .values(account_id=account_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(Signal)
        .where(Signal.person_id.is_(None), person_id.is_not(None))
        .values(person_id=person_id)
        .execution_options(synchronize_session=False)
    )
    return linked or 0


def counts_by_kind(session: Session) -> dict[str, int]:
    rows = session.execute(select(Signal.kind, func.count()).group_by(Signal.kind)).all()
    return {str(kind): count for kind, count in rows}
