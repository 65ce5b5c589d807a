"""Signal queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import Account, Person, Signal
from db.repositories.upsert import insert_ignoring_conflicts
from domain.signal_rows import SignalRow


def existing_by_external_id(session: Session, external_ids: Sequence[str]) -> dict[str, Signal]:
    rows = session.scalars(select(Signal).where(Signal.external_id.in_(external_ids))).all()
    return {row.external_id: row for row in rows}


def insert_new(session: Session, rows: Sequence[SignalRow], now: datetime) -> int:
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
            }
            for r in rows
        ],
        ["external_id"],
    )


def link_to_accounts_and_people(session: Session) -> int:
    """Fill in account and person ids for signals whose account/person is now known."""
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
