"""The facts the program report is computed from: four set-based reads (asks, referrals,
deals, rewards). ``names`` chooses how people are shown: their names for the files an
admin reads, ids for what goes to Prefect's artifacts and logs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, aliased

from db.models import Account, Ask, Deal, Person, Referral, Reward, StageEvent, TeamMember
from domain.report.metrics import AskRow, DealRow, ReferralRow, RewardRow
from domain.stages import ProgramStage, reached
from domain.statuses import AskStatus, Eligibility

OPPORTUNITY_OR_LATER = [
    s
    for s in ProgramStage
    if s is not ProgramStage.CLOSED_LOST and reached(s, ProgramStage.OPPORTUNITY)
]


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time(0), UTC),
        datetime.combine(end + timedelta(days=1), time(0), UTC),
    )


def _person(
    person_id: int | None,
    first: str | None,
    last: str | None,
    names: bool,
    email: str | None = None,
) -> str:
    if person_id is None:
        return "(unknown)"
    shown = f"{first or ''} {last or ''}".strip()
    if names and not shown and email and "@" in email:
        # A partner known only by address: the company's domain, never the address.
        shown = f"a referrer at {email.rsplit('@', 1)[1]}"
    return shown if names and shown else f"person:{person_id}"


def _member(member_id: int | None, name: str | None, names: bool) -> str:
    if member_id is None:
        return "(no owner)"
    return name if names and name else f"team_member:{member_id}"


def ask_rows(session: Session, start: date, end: date, names: bool) -> list[AskRow]:
    low, high = _bounds(start, end)
    rows = session.execute(
        select(TeamMember.id, TeamMember.name, TeamMember.role, Ask.prompted_at, Ask.status)
        .join(TeamMember, TeamMember.id == Ask.csm_id)
        .where(Ask.prompted_at >= low, Ask.prompted_at < high)
    ).all()
    return [
        AskRow(
            _member(member_id, name, names),
            prompted,
            status is AskStatus.INTRO_MADE,
            str(role) if role else None,
        )
        for member_id, name, role, prompted, status in rows
    ]


def _reached_opportunity() -> object:
    return exists().where(
        StageEvent.deal_id == Referral.deal_id,
        StageEvent.program_stage.in_(OPPORTUNITY_OR_LATER),
    )


def referral_rows(session: Session, start: date, end: date, names: bool) -> list[ReferralRow]:
    low, high = _bounds(start, end)
    rows = session.execute(
        select(
            Referral.submitted_at,
            Referral.eligibility,
            Referral.reason_codes,
            Person.id,
            Person.first_name,
            Person.last_name,
            Person.email,
            Account.name,
            Referral.deal_id,
            _reached_opportunity(),
            Deal.program_stage,
            Deal.amount,
        )
        .outerjoin(Person, Person.id == Referral.referrer_person_id)
        .outerjoin(Account, Account.id == Person.account_id)
        .outerjoin(Deal, Deal.id == Referral.deal_id)
        .where(Referral.submitted_at >= low, Referral.submitted_at < high)
    ).all()
    found = []
    for (
        at,
        eligibility,
        reasons,
        pid,
        first,
        last,
        email,
        account,
        deal_id,
        opp,
        stage,
        amount,
    ) in rows:
        won = stage is not None and reached(stage, ProgramStage.CLOSED_WON)
        found.append(
            ReferralRow(
                submitted_at=at,
                eligible=eligibility is Eligibility.ELIGIBLE,
                reasons=tuple(str(r) for r in reasons or ()),
                referrer=_person(pid, first, last, names, email),
                referring_account=account or "(unknown)",
                has_deal=deal_id is not None,
                reached_opportunity=bool(opp),
                won_amount=amount if won else None,
            )
        )
    return found


def deal_rows(session: Session, start: date, end: date, names: bool) -> list[DealRow]:
    """Deals created or closed in the period; a referral deal is one an eligible referral
    points at (or that the CRM tags as a client referral)."""
    low, high = _bounds(start, end)
    referrer = aliased(Person)
    account = aliased(Account)
    rows = session.execute(
        select(
            Deal.id,
            Deal.source_channel,
            Deal.owner_id,
            TeamMember.name,
            Deal.amount,
            Deal.crm_created_at,
            Deal.closed_at,
            Deal.program_stage,
            Referral.id,
            account.name,
        )
        .outerjoin(TeamMember, TeamMember.id == Deal.owner_id)
        .outerjoin(
            Referral,
            (Referral.deal_id == Deal.id) & (Referral.eligibility == Eligibility.ELIGIBLE),
        )
        .outerjoin(referrer, referrer.id == Referral.referrer_person_id)
        .outerjoin(account, account.id == referrer.account_id)
        .where(
            or_(
                (Deal.crm_created_at >= low) & (Deal.crm_created_at < high),
                (Deal.closed_at >= low) & (Deal.closed_at < high),
            )
        )
        .order_by(Deal.id)
    ).all()
    seen: set[int] = set()
    found = []
    for deal_id, channel, owner_id, owner, amount, created, closed, stage, ref, acct in rows:
        if deal_id in seen:  # two eligible referrals on one deal (a rep's tag): count it once
            continue
        seen.add(deal_id)
        found.append(
            DealRow(
                referral=ref is not None or channel == "client_referral",
                owner=_member(owner_id, owner, names),
                referring_account=acct,
                amount=amount,
                created_at=created,
                closed_at=closed,
                won=stage is not None and reached(stage, ProgramStage.CLOSED_WON),
                lost=stage is ProgramStage.CLOSED_LOST,
            )
        )
    return found


def reward_rows(session: Session) -> list[RewardRow]:
    return [
        RewardRow(str(status), Decimal(str(amount)))
        for status, amount in session.execute(select(Reward.status, Reward.amount))
    ]
