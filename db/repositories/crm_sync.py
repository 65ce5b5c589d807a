"""Queries of the CRM sync: watermarks, what is stored for a page of records, upserts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from db.models import Account, Ask, Deal, Person, Referral, StageEvent, Watermark
from db.repositories.arrays import one_of
from db.repositories.upsert import insert_ignoring_conflicts, upsert
from domain.stages import ProgramStage
from domain.statuses import AskStatus


def get_watermark(session: Session, key: str) -> datetime | None:
    row = session.get(Watermark, key)
    return row.value if row else None


def set_watermark(session: Session, key: str, value: datetime, cursor: str | None = None) -> None:
    upsert(
        session,
        Watermark.__table__,
        [{"key": key, "value": value, "cursor": cursor}],
        ["key"],
        ["value", "cursor"],
    )


def get_watermark_cursor(session: Session, key: str) -> str | None:
    row = session.get(Watermark, key)
    return row.cursor if row else None


def delete_watermark(session: Session, key: str) -> None:
    session.execute(delete(Watermark).where(Watermark.key == key))


def has_deals(session: Session) -> bool:
    return session.scalar(select(Deal.id).limit(1)) is not None


def remap_stage_events(
    session: Session, pipeline_id: str, lookup: Mapping[str, ProgramStage]
) -> None:
    """Stage history under a new stage map: entries of the program's pipeline get their
    program stage from ``lookup`` (None when unmapped); other pipelines' have none."""
    table = StageEvent.__table__
    in_pipeline = select(Deal.id).where(Deal.pipeline_id == pipeline_id)
    session.execute(
        update(StageEvent)
        .where(StageEvent.deal_id.not_in(in_pipeline), StageEvent.program_stage.is_not(None))
        .values(program_stage=None, previous_program_stage=None)
        .execution_options(synchronize_session=False)
    )
    stage_ids = list(
        session.scalars(
            select(StageEvent.crm_stage_id).distinct().where(StageEvent.deal_id.in_(in_pipeline))
        )
    )
    if stage_ids:
        session.connection().execute(
            update(table)
            .where(table.c.crm_stage_id == bindparam("b_stage"), table.c.deal_id.in_(in_pipeline))
            .values(program_stage=bindparam("b_program")),
            [{"b_stage": s, "b_program": lookup.get(s)} for s in stage_ids],
        )


def ids_modified_at(session: Session, model: Any, at: datetime) -> set[str]:
    """CRM ids stored with exactly this last-modified time (already read by an earlier run)."""
    return set(session.scalars(select(model.crm_id).where(model.crm_updated_at == at)))


def account_ids(session: Session, crm_ids: Iterable[str]) -> dict[str, int]:
    wanted = {c for c in crm_ids if c}
    if not wanted:
        return {}
    rows = session.execute(
        select(Account.crm_id, Account.id).where(one_of(session, Account.crm_id, wanted))
    )
    return {crm: account_id for crm, account_id in rows}


def stored_rows(
    session: Session, model: Any, column: str, values: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Stored rows keyed by ``column``, as plain dicts of their columns."""
    if not values:
        return {}
    table = model.__table__
    rows = (
        session.execute(select(table).where(one_of(session, table.c[column], values)))
        .mappings()
        .all()
    )
    return {row[column]: dict(row) for row in rows}


def upsert_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]], key: str) -> None:
    if rows:
        columns = [c for c in rows[0] if c != key]
        upsert(session, model.__table__, rows, [key], columns)


def change_person_emails(session: Session, changes: Sequence[tuple[int, str]]) -> None:
    if changes:
        table = Person.__table__
        session.connection().execute(
            update(table).where(table.c.id == bindparam("b_id")).values(email=bindparam("b_email")),
            [{"b_id": i, "b_email": e} for i, e in changes],
        )


def accounts_of_deals(
    session: Session, deal_crm_ids: Sequence[str]
) -> dict[str, tuple[str, str | None]]:
    """Deal CRM id -> (account name, account domain) for the deals linked to an account."""
    rows = session.execute(
        select(Deal.crm_id, Account.name, Account.domain)
        .join(Account, Account.id == Deal.account_id)
        .where(one_of(session, Deal.crm_id, list(deal_crm_ids)))
    ).all()
    return {crm_id: (name, domain) for crm_id, name, domain in rows}


def deal_ids(session: Session, crm_ids: Sequence[str]) -> dict[str, int]:
    rows = session.execute(
        select(Deal.crm_id, Deal.id).where(one_of(session, Deal.crm_id, crm_ids))
    )
    return {crm: deal_id for crm, deal_id in rows}


def stage_history(session: Session, deal_ids: Sequence[int]) -> dict[int, list[StageEvent]]:
    history: dict[int, list[StageEvent]] = {}
    if not deal_ids:
        return history
    for event in session.scalars(
        select(StageEvent)
        .where(one_of(session, StageEvent.deal_id, deal_ids))
        .order_by(StageEvent.entered_at, StageEvent.id)
    ):
        history.setdefault(event.deal_id, []).append(event)
    return history


def insert_stage_events(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    return insert_ignoring_conflicts(
        session, StageEvent.__table__, rows, ["deal_id", "crm_stage_id", "entered_at"]
    )


def link_referrals_to_deals(session: Session, deal_crm_ids: Sequence[str]) -> None:
    """Referrals follow their deal: by the CRM deal id, or by the referral id the deal carries."""
    if not deal_crm_ids:
        return
    deals = (
        select(Deal.id, Deal.crm_id, Deal.program_stage, Deal.referral_key)
        .where(one_of(session, Deal.crm_id, deal_crm_ids))
        .subquery()
    )
    by_key = select(deals.c.id).where(deals.c.referral_key == Referral.external_id)
    session.execute(
        update(Referral)
        .where(Referral.deal_id.is_(None), by_key.exists())
        .values(
            deal_id=by_key.scalar_subquery(),
            crm_deal_id=select(deals.c.crm_id)
            .where(deals.c.referral_key == Referral.external_id)
            .scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Referral)
        .where(one_of(session, Referral.crm_deal_id, deal_crm_ids))
        .values(
            program_stage=select(Deal.program_stage)
            .where(Deal.crm_id == Referral.crm_deal_id)
            .scalar_subquery(),
            deal_id=select(Deal.id).where(Deal.crm_id == Referral.crm_deal_id).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(StageEvent)
        .where(
            StageEvent.referral_id.is_(None),
            StageEvent.deal_id.in_(select(Referral.deal_id).where(Referral.deal_id.is_not(None))),
        )
        .values(
            referral_id=select(Referral.id)
            .where(Referral.deal_id == StageEvent.deal_id)
            .limit(1)
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )


def mark_asks_done_by_crm_task(
    session: Session, completions: Sequence[tuple[str, datetime]]
) -> int:
    """Completing the CRM task of an ask means the CSM asked."""
    if not completions:
        return 0
    table = Ask.__table__
    result = session.connection().execute(
        update(table)
        .where(
            table.c.crm_task_id == bindparam("b_task"),
            # no IN (...): expanding parameters cannot be used with executemany
            or_(table.c.status == AskStatus.PENDING, table.c.status == AskStatus.PROMPTED),
        )
        .values(status=AskStatus.ASKED, outcome_at=bindparam("b_at")),
        [{"b_task": task, "b_at": at} for task, at in completions],
    )
    return result.rowcount or 0


def mark_reopened(session: Session, reopened: dict[str, datetime]) -> None:
    """Record when a deal re-entered an open stage after closed lost. Its ``closed_at`` follows
    its current stage (written with the row): a deal closed again since, or whose history
    disagrees with its stage, stays closed, and a second sync finds nothing to change."""
    if reopened:
        table = Deal.__table__
        session.connection().execute(
            update(table)
            .where(table.c.crm_id == bindparam("b_crm"))
            .values(reopened_at=bindparam("b_at")),
            [{"b_crm": crm, "b_at": at} for crm, at in reopened.items()],
        )
