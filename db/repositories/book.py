"""Writes of a synthetic book of business: the team, and the sandbox CRM's records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, bindparam, case, func, select, true, update
from sqlalchemy.orm import Session

from db.base import UTCDateTime
from db.models import (
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
    SandboxDealStageEntry,
    TeamMember,
)
from db.repositories.upsert import insert_ignoring_conflicts, upsert

BATCH = 1000


def _chunks(rows: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


def upsert_team(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        upsert(
            session,
            TeamMember.__table__,
            chunk,
            ["email"],
            ["name", "team", "role", "crm_owner_id", "slack_user_id"],
        )


def upsert_sandbox_records(
    session: Session,
    companies: Sequence[dict[str, Any]],
    contacts: Sequence[dict[str, Any]],
    deals: Sequence[dict[str, Any]],
    stage_entries: Sequence[dict[str, Any]],
) -> None:
    for model, rows in (
        (SandboxCompany, companies),
        (SandboxContact, contacts),
        (SandboxDeal, deals),
    ):
        table = model.__table__
        columns = [c.name for c in table.columns if c.name != "id"]
        for chunk in _chunks(rows):
            upsert(session, table, chunk, ["id"], columns)
    for chunk in _chunks(stage_entries):
        insert_ignoring_conflicts(
            session, SandboxDealStageEntry.__table__, chunk, ["deal_id", "stage_id", "entered_at"]
        )


def open_sandbox_deals(session: Session, final_stage_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(deal id, stage id) of sandbox deals that can still move."""
    rows = session.execute(
        select(SandboxDeal.id, SandboxDeal.stage_id).where(
            SandboxDeal.stage_id.not_in(final_stage_ids)
        )
    ).all()
    return [(deal_id, stage_id) for deal_id, stage_id in rows]


def move_sandbox_deals(session: Session, moves: Sequence[dict[str, Any]]) -> None:
    """Apply stage moves in one batch: ``{"b_id", "b_stage", "b_at", "b_closed", "b_keep"}``
    per deal; ``b_keep`` keeps the close date (post-sale stages after closed won)."""
    if not moves:
        return
    table = SandboxDeal.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            stage_id=bindparam("b_stage"),
            stage_entered_at=bindparam("b_at"),
            closed_at=case(
                (bindparam("b_keep", type_=Boolean) == true(), table.c.closed_at),
                else_=bindparam("b_closed", type_=UTCDateTime()),
            ),
            updated_at=bindparam("b_at"),
        ),
        list(moves),
    )
    insert_ignoring_conflicts(
        session,
        SandboxDealStageEntry.__table__,
        [{"deal_id": m["b_id"], "stage_id": m["b_stage"], "entered_at": m["b_at"]} for m in moves],
        ["deal_id", "stage_id", "entered_at"],
    )


def sandbox_companies(session: Session) -> list[tuple[str, str | None, str]]:
    return [
        tuple(row)
        for row in session.execute(  # type: ignore[misc]
            select(SandboxCompany.id, SandboxCompany.segment, SandboxCompany.name)
        )
    ]


def add_sandbox_deals(session: Session, deals: Sequence[dict[str, Any]]) -> None:
    """New sandbox deals (ids follow the highest numeric id) with their first stage entry."""
    if not deals:
        return
    highest = session.scalar(select(func.max(func.cast(SandboxDeal.id, BigInteger)))) or 0
    rows, entries = [], []
    for offset, deal in enumerate(deals, start=1):
        deal_id = str(int(highest) + offset)
        rows.append({**deal, "id": deal_id})
        entries.append(
            {
                "deal_id": deal_id,
                "stage_id": deal["stage_id"],
                "entered_at": deal["stage_entered_at"],
            }
        )
    session.execute(SandboxDeal.__table__.insert(), rows)
    session.execute(SandboxDealStageEntry.__table__.insert(), entries)
