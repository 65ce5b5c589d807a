"""Quarantined CRM records and causes worth a look, each kept once (per record, per cause)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from db.models import Account, CrmIssue, Deal, QuarantinedRecord, TeamMember
from db.repositories.arrays import one_of
from db.repositories.upsert import dialect_insert, upsert
from domain.crm_records import Rejection
from domain.statuses import ASKING_ROLES

OBJECT_OF = {"company": "companies", "contact": "contacts", "deal": "deals", "owner": "owners"}


def quarantine(
    session: Session, rejections: Sequence[tuple[Rejection, datetime | None]], now: datetime
) -> None:
    """Set records aside with their reason; seen again, a record's row is updated."""
    if not rejections:
        return
    rows = {
        (r.object_type, r.crm_id): {
            "object_type": r.object_type,
            "crm_id": r.crm_id,
            "field": r.field,
            "reason": r.reason,
            "crm_updated_at": updated_at,
            "first_seen_at": now,
            "last_seen_at": now,
            "times_seen": 1,
        }
        for r, updated_at in rejections
    }
    table = QuarantinedRecord.__table__
    insert = dialect_insert(session, table)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["object_type", "crm_id"],
            set_={
                "field": insert.excluded.field,
                "reason": insert.excluded.reason,
                "crm_updated_at": insert.excluded.crm_updated_at,
                "last_seen_at": insert.excluded.last_seen_at,
                "times_seen": table.c.times_seen + 1,
            },
        ),
        list(rows.values()),
    )


def release(session: Session, object_type: str, crm_ids: Sequence[str]) -> int:
    """Records now stored leave the quarantine."""
    if not crm_ids:
        return 0
    result = session.execute(
        delete(QuarantinedRecord).where(
            QuarantinedRecord.object_type == object_type,
            one_of(session, QuarantinedRecord.crm_id, crm_ids),
        )
    )
    return result.rowcount or 0


def still_quarantined(
    session: Session, object_type: str, versions: Mapping[str, datetime]
) -> set[str]:
    """Of these records (id -> last-modified time), the ones quarantined in this very version:
    read again unchanged, they are skipped rather than quarantined again."""
    if not versions:
        return set()
    rows = session.execute(
        select(QuarantinedRecord.crm_id, QuarantinedRecord.crm_updated_at).where(
            QuarantinedRecord.object_type == object_type,
            one_of(session, QuarantinedRecord.crm_id, versions),
        )
    ).all()
    return {crm_id for crm_id, at in rows if at is not None and at == versions[crm_id]}


def quarantined(session: Session, limit: int = 1000) -> list[QuarantinedRecord]:
    return list(
        session.scalars(
            select(QuarantinedRecord)
            .order_by(QuarantinedRecord.object_type, QuarantinedRecord.last_seen_at.desc())
            .limit(limit)
        )
    )


def quarantine_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(QuarantinedRecord)) or 0


@dataclass(frozen=True)
class Cause:
    kind: str
    key: str
    object_type: str
    message: str
    records: int
    details: Mapping[str, Any]


def record_causes(
    session: Session, kinds: Sequence[str], causes: Sequence[Cause], now: datetime
) -> list[Cause]:
    """Store the current causes of ``kinds``; the ones not present before (or resolved since)
    are returned, to be reported once. Causes of these kinds that are gone are resolved."""
    known = {
        (i.kind, i.key): i
        for i in session.scalars(select(CrmIssue).where(CrmIssue.kind.in_(list(kinds))))
    }
    fresh = [
        c for c in causes if (c.kind, c.key) not in known or known[(c.kind, c.key)].resolved_at
    ]
    _store_causes(session, causes, now)
    current = {(c.kind, c.key) for c in causes}
    gone = [key for key, issue in known.items() if key not in current and not issue.resolved_at]
    if gone:
        session.execute(
            update(CrmIssue)
            .where(tuple_(CrmIssue.kind, CrmIssue.key).in_(gone))
            .values(resolved_at=now, records=0)
            .execution_options(synchronize_session=False)
        )
    return fresh


def note_causes(session: Session, causes: Sequence[Cause], now: datetime) -> list[Cause]:
    """Store causes seen in passing (not recounted from stored data each sync); returns the
    ones not known before, to be reported once."""
    if not causes:
        return []
    known = {
        (i.kind, i.key)
        for i in session.scalars(
            select(CrmIssue).where(
                tuple_(CrmIssue.kind, CrmIssue.key).in_([(c.kind, c.key) for c in causes]),
                CrmIssue.resolved_at.is_(None),
            )
        )
    }
    _store_causes(session, causes, now)
    return [c for c in causes if (c.kind, c.key) not in known]


def _store_causes(session: Session, causes: Sequence[Cause], now: datetime) -> None:
    """Insert new causes, or refresh known ones (and reopen resolved ones)."""
    upsert(
        session,
        CrmIssue.__table__,
        [
            {
                "kind": c.kind,
                "key": c.key,
                "object_type": c.object_type,
                "message": c.message,
                "details": dict(c.details),
                "records": c.records,
                "first_seen_at": now,
                "last_seen_at": now,
                "resolved_at": None,
            }
            for c in causes
        ],
        ["kind", "key"],
        ["object_type", "message", "details", "records", "last_seen_at", "resolved_at"],
    )


def open_issues(session: Session, include_resolved: bool = False) -> list[CrmIssue]:
    query = select(CrmIssue).order_by(CrmIssue.kind, CrmIssue.key)
    if not include_resolved:
        query = query.where(CrmIssue.resolved_at.is_(None))
    return list(session.scalars(query))


def unmapped_deal_counts(session: Session) -> list[tuple[str, str, int]]:
    """(pipeline, stage, deals) of stored deals with no program stage."""
    rows = session.execute(
        select(Deal.pipeline_id, Deal.crm_stage_id, func.count())
        .where(Deal.program_stage.is_(None))
        .group_by(Deal.pipeline_id, Deal.crm_stage_id)
        .order_by(Deal.pipeline_id, Deal.crm_stage_id)
    ).all()
    return [(pipeline, stage, count) for pipeline, stage, count in rows]


def unknown_owner_counts(session: Session) -> list[tuple[str, int, int]]:
    """(CRM owner id, companies, deals) owned by an owner id no team member has."""
    counts: dict[str, list[int]] = {}
    for position, model in enumerate((Account, Deal)):
        rows = session.execute(
            select(model.owner_crm_id, func.count())
            .where(model.owner_crm_id.is_not(None), model.owner_id.is_(None))
            .group_by(model.owner_crm_id)
        ).all()
        for owner, count in rows:
            counts.setdefault(owner, [0, 0])[position] = count
    return [(owner, c[0], c[1]) for owner, c in sorted(counts.items())]


def owners_not_asking(session: Session) -> list[tuple[int, str | None, bool, str | None, int]]:
    """(member id, CRM owner id, active, role, companies) of members who own companies but get
    no asks: inactive, or with no role that asks (csm, rep)."""
    asking = [role.value for role in ASKING_ROLES]
    rows = session.execute(
        select(
            TeamMember.id,
            TeamMember.crm_owner_id,
            TeamMember.active,
            TeamMember.role,
            func.count(Account.id),
        )
        .join(Account, Account.owner_id == TeamMember.id)
        .where(
            or_(
                TeamMember.active.is_(False),
                TeamMember.role.is_(None),
                TeamMember.role.not_in(asking),
            )
        )
        .group_by(TeamMember.id, TeamMember.crm_owner_id, TeamMember.active, TeamMember.role)
        .order_by(TeamMember.id)
    ).all()
    return [
        (member, owner, active, role.value if role else None, companies)
        for member, owner, active, role, companies in rows
    ]
