"""Writes of a synthetic book of business: the team, and the sandbox CRM's records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

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
