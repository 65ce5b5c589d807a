"""Writes of a synthetic book of business into the sandbox CRM, and its simulated days."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, select, update
from sqlalchemy.orm import Session

from db.base import UTCDateTime
from db.models import (
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
    SandboxDealStageEntry,
    SandboxOwner,
)
from db.repositories.upsert import insert_ignoring_conflicts, upsert

BATCH = 1000


def _chunks(rows: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


def upsert_sandbox_owners(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    table = SandboxOwner.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    for chunk in _chunks(rows):
        upsert(session, table, chunk, ["id"], columns)


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


def open_sandbox_deals(
    session: Session, pipeline_id: str, final_property: str | None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(deal id, stage id, properties) of the pipeline's deals that can still move: all but
    won deals that reached their last milestone (``final_property`` is set)."""
    query = select(SandboxDeal.id, SandboxDeal.stage_id, SandboxDeal.properties).where(
        SandboxDeal.pipeline_id == pipeline_id
    )
    if final_property:
        query = query.where(SandboxDeal.properties[final_property].as_string().is_(None))
    return [
        (deal_id, stage_id, dict(props or {}))
        for deal_id, stage_id, props in session.execute(query)
    ]


def move_sandbox_deals(session: Session, moves: Sequence[dict[str, Any]]) -> None:
    """Apply stage moves in one batch: ``{"b_id", "b_stage", "b_at", "b_closed"}`` per deal
    (``b_closed``: the close time when the stage is closed, else None)."""
    if not moves:
        return
    table = SandboxDeal.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            stage_id=bindparam("b_stage"),
            stage_entered_at=bindparam("b_at"),
            closed_at=bindparam("b_closed", type_=UTCDateTime()),
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


def price_sandbox_deals(session: Session, amounts: Sequence[dict[str, Any]]) -> None:
    """Give deals that have no amount one (``{"b_id", "b_amount"}``); a priced deal keeps
    its own."""
    if not amounts:
        return
    table = SandboxDeal.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.amount.is_(None))
        .values(amount=bindparam("b_amount", type_=table.c.amount.type)),
        list(amounts),
    )


def set_sandbox_deal_properties(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    """New property sets of deals, in one batch: ``{"b_id", "b_properties", "b_at"}``."""
    if not changes:
        return
    table = SandboxDeal.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            properties=bindparam("b_properties", type_=table.c.properties.type),
            updated_at=bindparam("b_at"),
        ),
        list(changes),
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
