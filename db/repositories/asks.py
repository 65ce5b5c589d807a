"""Ask queries: the lifecycle (due, resurfaced once, expired), digests, outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from db.models import Account, Ask, OutboxMessage, Person, ReferralLink, TeamMember
from db.repositories.arrays import one_of
from domain.statuses import AskStatus, OutboxStatus

OPEN = (AskStatus.PENDING, AskStatus.PROMPTED, AskStatus.SNOOZED)


def resurface_and_expire(
    session: Session, now: datetime, due_days: int, resurface_once: bool, expire_after_days: int
) -> tuple[list[int], int]:
    """Asks past due: re-surfaced once (new due date), then expired. Returns (resurfaced ids,
    number expired)."""
    overdue = and_(Ask.status == AskStatus.PROMPTED, Ask.due_at < now)
    resurfaced: list[int] = []
    if resurface_once:
        resurfaced = list(
            session.scalars(
                update(Ask)
                .where(overdue, Ask.resurfaced_at.is_(None))
                .values(resurfaced_at=now, due_at=now + timedelta(days=due_days))
                .returning(Ask.id)
                .execution_options(synchronize_session=False)
            )
        )
    expired = (
        session.execute(
            update(Ask)
            .where(
                or_(
                    and_(overdue, Ask.resurfaced_at.is_not(None) if resurface_once else True),
                    and_(
                        Ask.status == AskStatus.PENDING,
                        Ask.due_at < now - timedelta(days=max(expire_after_days - due_days, 0)),
                    ),
                )
            )
            .values(status=AskStatus.EXPIRED, outcome_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    return resurfaced, expired


@dataclass(frozen=True)
class PromptRow:
    ask: Ask
    account: Account
    champion: Person
    csm: TeamMember
    code: str | None


def asks_to_prompt(
    session: Session, now: datetime, this_week: str, resurfaced: Sequence[int]
) -> list[PromptRow]:
    """Asks whose week has come, snoozes that ran out, the ones re-surfaced today, and prompted
    asks that never reached a digest because their CSM had no chat id then but has one now."""
    rows = session.execute(
        select(Ask, Account, Person, TeamMember, ReferralLink.code)
        .join(Account, Account.id == Ask.account_id)
        .join(Person, Person.id == Ask.champion_id)
        .join(TeamMember, TeamMember.id == Ask.csm_id)
        .outerjoin(ReferralLink, ReferralLink.id == Ask.referral_link_id)
        .where(
            or_(
                and_(Ask.status == AskStatus.PENDING, Ask.week_key <= this_week),
                and_(Ask.status == AskStatus.SNOOZED, Ask.due_at <= now),
                Ask.id.in_(list(resurfaced) or [-1]),
                and_(
                    Ask.status == AskStatus.PROMPTED,
                    Ask.slack_channel.is_(None),
                    TeamMember.slack_user_id.is_not(None),
                ),
            )
        )
        .order_by(Ask.csm_id, Ask.score.desc(), Ask.id)
    ).all()
    return [PromptRow(*row) for row in rows]


def mark_prompted(session: Session, ids: Sequence[int], now: datetime, due_days: int) -> None:
    """In a digest now. New and snoozed asks are due ``due_days`` from today; re-surfaced ones
    already got their new due date."""
    if not ids:
        return
    session.execute(
        update(Ask)
        .where(one_of(session, Ask.id, ids), Ask.status.in_((AskStatus.PENDING, AskStatus.SNOOZED)))
        .values(due_at=now + timedelta(days=due_days))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Ask)
        .where(one_of(session, Ask.id, ids), Ask.status.in_(OPEN))
        .values(status=AskStatus.PROMPTED, prompted_at=now)
        .execution_options(synchronize_session=False)
    )


def mark_in_digest(session: Session, ids: Sequence[int], recipient: str) -> None:
    if ids:
        session.execute(
            update(Ask)
            .where(one_of(session, Ask.id, ids))
            .values(slack_channel=recipient)
            .execution_options(synchronize_session=False)
        )


def withdraw(session: Session, reasons: dict[int, list[str]], now: datetime) -> None:
    """Asks that must not go out any more (a guard applied since they were made)."""
    for ask_id, why in reasons.items():
        session.execute(
            update(Ask)
            .where(Ask.id == ask_id, Ask.status.in_(OPEN))
            .values(
                status=AskStatus.EXPIRED,
                outcome_at=now,
                outcome_note="withdrawn: " + ", ".join(why),
            )
            .execution_options(synchronize_session=False)
        )


def csms_with_promptable_asks(session: Session, now: datetime, this_week: str) -> list[TeamMember]:
    """CSMs who may get a digest in this run (for looking up their chat ids first)."""
    promptable = or_(
        and_(Ask.status == AskStatus.PENDING, Ask.week_key <= this_week),
        and_(Ask.status == AskStatus.SNOOZED, Ask.due_at <= now),
        and_(Ask.status == AskStatus.PROMPTED, Ask.due_at < now),
        and_(Ask.status == AskStatus.PROMPTED, Ask.slack_channel.is_(None)),
    )
    return list(
        session.scalars(
            select(TeamMember).where(TeamMember.id.in_(select(Ask.csm_id).where(promptable)))
        )
    )


def store_slack_lookups(
    session: Session, results: dict[int, tuple[str | None, str | None]], now: datetime
) -> None:
    for member_id, (user_id, error) in results.items():
        session.execute(
            update(TeamMember)
            .where(TeamMember.id == member_id)
            .values(slack_user_id=user_id, slack_lookup_error=error, slack_checked_at=now)
        )


def copy_delivery_refs(session: Session) -> int:
    """Tasks created in the CRM: their ids onto the asks (the outbox row is the reference)."""
    outbox = aliased(OutboxMessage)
    task_id = (
        select(outbox.provider_id)
        .where(
            outbox.subject_type == "ask",
            outbox.subject_id == Ask.id,
            outbox.operation == "create_task",
            outbox.status == OutboxStatus.SENT,
        )
        .limit(1)
        .scalar_subquery()
    )
    return (
        session.execute(
            update(Ask)
            .where(Ask.crm_task_id.is_(None), task_id.is_not(None))
            .values(crm_task_id=task_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )


OUTCOMES = {
    "asked": AskStatus.ASKED,
    "declined": AskStatus.DECLINED,
    "snoozed": AskStatus.SNOOZED,
    "intro": AskStatus.INTRO_MADE,
}
SNOOZE_DAYS = 7


def record_outcome(
    session: Session, ask_id: int, outcome: str, note: str | None, now: datetime
) -> Ask | None:
    """What the CSM did. Open asks (and "asked" ones, which may still turn into an intro or a
    decline) take an outcome; others are left as they are."""
    status = OUTCOMES[outcome]
    values: dict[str, Any] = {"status": status, "outcome_at": now}
    if note:
        values["outcome_note"] = note
    if status is AskStatus.SNOOZED:
        values["due_at"] = now + timedelta(days=SNOOZE_DAYS)
    allowed = (*OPEN, AskStatus.ASKED)
    updated = session.execute(
        update(Ask)
        .where(Ask.id == ask_id, Ask.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return session.get(Ask, ask_id) if updated else None


def list_asks(
    session: Session, csm_email: str | None, status: AskStatus | None, limit: int
) -> tuple[list[tuple[Ask, Account, Person, TeamMember]], int]:
    """Asks by due date (best first within a day), at most ``limit``, and how many match."""
    query = (
        select(Ask, Account, Person, TeamMember)
        .join(Account, Account.id == Ask.account_id)
        .join(Person, Person.id == Ask.champion_id)
        .join(TeamMember, TeamMember.id == Ask.csm_id)
    )
    if csm_email:
        query = query.where(TeamMember.email == csm_email.lower())
    if status:
        query = query.where(Ask.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Ask.due_at, Ask.score.desc()).limit(limit)).all()
    return [tuple(row) for row in rows], total  # type: ignore[misc]
