"""Reward queries: accrue, read what a run needs, apply guarded steps with their ledger rows.
Set-based; commits belong to callers."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal_column, or_, select, text, update
from sqlalchemy.orm import Session

from db.models import (
    Account,
    Deal,
    Person,
    Referral,
    Reward,
    RewardLedgerEntry,
    StageEvent,
    TaxForm,
    TeamMember,
)
from db.repositories.arrays import one_of
from db.repositories.upsert import insert_new, insert_rows
from domain.rewards.lifecycle import OPEN, OUT, DealNow, Step
from domain.stages import MILESTONE_PREFIX, ProgramStage
from domain.statuses import Eligibility, LedgerEntry, RewardStatus

REWARDS = Reward.__table__
LEDGER = RewardLedgerEntry.__table__
DUE = (RewardStatus.HOLDING, RewardStatus.APPROVED, RewardStatus.AWAITING_TAX_FORM)


def _recipient() -> Any:
    """Who a reward goes to, as runs group them. The empty string is inline SQL, not a bound
    parameter: PostgreSQL sees each bound parameter as a new expression, so a GROUP BY over
    a coalesce with one does not match the same coalesce in the SELECT list."""
    return func.coalesce(Reward.recipient_email, literal_column("''"))


@dataclass(frozen=True)
class Earner:
    """An eligible referral with a deal and no rewards yet."""

    referral_id: int
    referrer_type: str
    referrer_person_id: int | None
    referrer_email: str | None
    deal_amount: Decimal | None


def earners(session: Session, referrer_types: Sequence[str], limit: int) -> list[Earner]:
    """Eligible referrals with a deal whose type has reward rules and that have no reward
    rows yet (influence-only, duplicate and refused referrals never earn)."""
    rows = session.execute(
        select(
            Referral.id,
            Referral.referrer_type_key,
            Referral.referrer_person_id,
            Referral.referrer_email,
            Deal.amount,
        )
        .join(Deal, Deal.id == Referral.deal_id)
        .where(
            Referral.eligibility == Eligibility.ELIGIBLE,
            Referral.referrer_type_key.in_(list(referrer_types)),
            ~exists().where(Reward.referral_id == Referral.id),
        )
        .order_by(Referral.id)
        .limit(limit)
    ).all()
    return [Earner(*row) for row in rows]


def insert_rewards(session: Session, rows: Sequence[dict[str, Any]]) -> list[tuple[int, Decimal]]:
    """New reward rows; one whose (referral, rule, part) exists is left as it is. Returns the
    ids and amounts actually inserted, so only they get an ``accrued`` ledger row."""
    conflict = ["referral_id", "rule_key", "part_index"]
    inserted = insert_new(session, REWARDS, rows, conflict, ["id", "amount"])
    return [(r.id, r.amount) for r in inserted]


def add_ledger(
    session: Session,
    rows: Iterable[tuple[int, LedgerEntry, Decimal, str]],
    currency: dict[int, str],
    actor: str,
    now: datetime,
) -> int:
    values = [
        {
            "reward_id": reward_id,
            "entry": entry,
            "amount": amount,
            "currency": currency[reward_id],
            "occurred_at": now,
            "actor": actor,
            "note": note,
        }
        for reward_id, entry, amount, note in rows
    ]
    insert_rows(session, LEDGER, values)
    return len(values)


def lock_rewards(
    session: Session, statuses: Iterable[RewardStatus], after_id: int, limit: int, *where: Any
) -> list[Reward]:
    """Rewards in ``statuses`` after ``after_id``, locked for this transaction; on PostgreSQL
    rows another run holds are skipped (that run is deciding them)."""
    query = (
        select(Reward)
        .where(Reward.status.in_(list(statuses)), Reward.id > after_id, *where)
        .order_by(Reward.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


# A deal lost inside a clawback window is clawed back even if sync-crm sees it this much
# after the window ended (the loss counts at the CRM's own time).
LATE_LOSS = timedelta(days=30)


def followed(session: Session, now: datetime, after_id: int, limit: int) -> list[Reward]:
    """Rewards a deal can still change: not paid out yet, or inside the clawback window
    (or just past it, for a loss the CRM dates inside it)."""
    return lock_rewards(
        session,
        [*OPEN, *OUT],
        after_id,
        limit,
        or_(Reward.status.in_(list(OPEN)), Reward.clawback_until >= now - LATE_LOSS),
    )


def deals_of(session: Session, referral_ids: Sequence[int]) -> dict[int, DealNow]:
    """Each referral's deal as last synced, with its stage history and its milestone dates
    (kept apart: a milestone counts only while the deal is won)."""
    deals = session.execute(
        select(Referral.id, Deal.id, Deal.program_stage, Deal.amount)
        .join(Deal, Deal.id == Referral.deal_id)
        .where(one_of(session, Referral.id, list(referral_ids)))
    ).all()
    entries: dict[int, list[tuple[ProgramStage, datetime]]] = {}
    milestones: dict[int, list[tuple[ProgramStage, datetime]]] = {}
    deal_ids = [deal_id for _, deal_id, _, _ in deals]
    for deal_id, crm_stage_id, stage, at in session.execute(
        select(
            StageEvent.deal_id,
            StageEvent.crm_stage_id,
            StageEvent.program_stage,
            StageEvent.entered_at,
        )
        .where(one_of(session, StageEvent.deal_id, deal_ids), StageEvent.program_stage.is_not(None))
        .order_by(StageEvent.entered_at, StageEvent.id)
    ):
        into = milestones if crm_stage_id.startswith(MILESTONE_PREFIX) else entries
        into.setdefault(deal_id, []).append((stage, at))
    return {
        referral_id: DealNow(
            stage,
            amount,
            tuple(entries.get(deal_id, [])),
            tuple(milestones.get(deal_id, [])),
        )
        for referral_id, deal_id, stage, amount in deals
    }


def apply_steps(
    session: Session, steps: Sequence[tuple[Reward, Step]], actor: str, now: datetime
) -> list[tuple[Reward, Step]]:
    """Each step, guarded by the status it was computed from, with its ledger rows. A step
    whose reward moved on meanwhile is skipped, ledger and all. Returns the steps applied.

    Steps that set the same columns from the same status go in one executemany; if its row
    count shows a reward moved on, that group is redone row by row to find which."""
    applied: list[tuple[Reward, Step]] = []
    groups: dict[tuple[RewardStatus, tuple[str, ...]], list[tuple[Reward, Step]]] = {}
    for reward, step in steps:
        values = _values(step)
        if not values:
            applied.append((reward, step))
            continue
        groups.setdefault((reward.status, tuple(sorted(values))), []).append((reward, step))
    for (status, columns), items in groups.items():
        if _update_all(session, status, columns, items, now):
            applied.extend(items)
        else:
            applied.extend(item for item in items if _update_one(session, *item, now))
    ledger = [
        (reward.id, entry, amount, note)
        for reward, step in applied
        for entry, amount, note in step.entries
    ]
    add_ledger(session, ledger, {r.id: r.currency for r, _ in steps}, actor, now)
    return applied


def _values(step: Step) -> dict[str, Any]:
    values = dict(step.fields)
    if step.status is not None:
        values["status"] = step.status
    return values


def _update_all(
    session: Session,
    status: RewardStatus,
    columns: tuple[str, ...],
    items: Sequence[tuple[Reward, Step]],
    now: datetime,
) -> bool:
    statement = (
        update(REWARDS)
        .where(REWARDS.c.id == bindparam("b_id"), REWARDS.c.status == status)
        .values(
            {c: bindparam(f"b_{c}", type_=REWARDS.c[c].type) for c in columns} | {"updated_at": now}
        )
    )
    params = [
        {"b_id": reward.id, **{f"b_{c}": _values(step)[c] for c in columns}}
        for reward, step in items
    ]
    result = session.connection().execute(statement, params)
    return bool(result.rowcount == len(items))


def _update_one(session: Session, reward: Reward, step: Step, now: datetime) -> bool:
    result = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.status == reward.status)
        .values(**_values(step), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def due_recipients(session: Session, now: datetime, limit: int, after: str | None) -> list[str]:
    """Recipients with a reward whose hold window is over, in order, after ``after`` (None:
    from the first; '' is the recipient with no email, who comes first)."""
    return list(
        session.scalars(
            select(_recipient())
            .where(_due(now), *([_recipient() > after] if after is not None else []))
            .group_by(_recipient())
            .order_by(_recipient())
            .limit(limit)
        )
    )


def _due(now: datetime) -> Any:
    """Past its hold window, whatever gate it waits at: an approval or a recomputation can
    never bring a release before ``release_after``."""
    return and_(Reward.status.in_(list(DUE)), Reward.release_after <= now)


def lock_recipients(session: Session, recipients: Sequence[str]) -> None:
    """Serialise runs per recipient on PostgreSQL (yearly cap, tax form and netting read
    what other releases of the same person wrote). Sorted, so two runs cannot deadlock."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE already serialises writers
    for key in sorted({zlib.crc32(r.encode()) for r in recipients}):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def due_rewards(session: Session, recipients: Sequence[str], now: datetime) -> list[Reward]:
    return list(
        session.scalars(
            select(Reward)
            .where(_due(now), one_of(session, _recipient(), list(recipients)))
            .order_by(Reward.recipient_email, Reward.release_after, Reward.id)
            .with_for_update(skip_locked=True)
        )
    )


def year_so_far(
    session: Session, recipients: Sequence[str], now: datetime, cash_like: Sequence[str]
) -> dict[str, tuple[Decimal, Decimal]]:
    """Per recipient: amount released this calendar year, and the cash-like part of it."""
    email = _recipient()
    rows = session.execute(
        select(email, Reward.reward_type, func.sum(Reward.amount))
        .where(
            one_of(session, email, list(recipients)),
            Reward.status.in_(list(OUT)),
            Reward.released_at >= datetime(now.year, 1, 1, tzinfo=UTC),
            Reward.released_at < datetime(now.year + 1, 1, 1, tzinfo=UTC),
        )
        .group_by(email, Reward.reward_type)
    ).all()
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for who, reward_type, amount in rows:
        total, cash_total = totals.get(who, (Decimal(0), Decimal(0)))
        amount = cents(amount)
        totals[who] = (
            total + amount,
            cash_total + (amount if reward_type in cash_like else Decimal(0)),
        )
    return totals


def tax_forms(session: Session, recipients: Sequence[str]) -> set[str]:
    return set(
        session.scalars(
            select(TaxForm.email).where(one_of(session, TaxForm.email, list(recipients)))
        )
    )


def debts(session: Session, recipients: Sequence[str]) -> dict[str, list[tuple[int, Decimal]]]:
    """What each recipient still owes, per clawed-back reward, oldest first: the clawed-back
    amount (negative) and what netting recovered since (positive) summed per reward."""
    email = _recipient()
    balance = func.sum(RewardLedgerEntry.amount)
    rows = session.execute(
        select(email, Reward.id, balance)
        .join(RewardLedgerEntry, RewardLedgerEntry.reward_id == Reward.id)
        .where(
            one_of(session, email, list(recipients)),
            RewardLedgerEntry.entry.in_([LedgerEntry.CLAWED_BACK, LedgerEntry.RECOVERED]),
        )
        .group_by(email, Reward.id)
        .order_by(Reward.id)
    ).all()
    owed: dict[str, list[tuple[int, Decimal]]] = {}
    for who, reward_id, total in rows:
        left = -cents(total)
        if left > 0:
            owed.setdefault(who, []).append((reward_id, left))
    return owed


def cents(value: object) -> Decimal:
    """A sum as exact money: SQLite adds NUMERIC columns as floats (-300.30 + 100.10 +
    200.20 is -2.8e-14 there), PostgreSQL exactly."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Context:
    """What a reward's messages say about where it came from."""

    reward: Reward
    referral: Referral
    referrer: Person | None
    account: Account | None
    csm: TeamMember | None
    deal: Deal | None


def contexts(session: Session, reward_ids: Sequence[int]) -> list[Context]:
    rows = session.execute(
        select(Reward, Referral, Person, Account, TeamMember, Deal)
        .join(Referral, Referral.id == Reward.referral_id)
        .outerjoin(Person, Person.id == Referral.referrer_person_id)
        .outerjoin(Account, Account.id == Person.account_id)
        .outerjoin(TeamMember, TeamMember.id == Account.owner_id)
        .outerjoin(Deal, Deal.id == Referral.deal_id)
        .where(one_of(session, Reward.id, list(reward_ids)))
        .order_by(Reward.id)
        .execution_options(populate_existing=True)  # the guarded updates bypassed the ORM
    ).all()
    return [Context(*row) for row in rows]


def approvers(session: Session) -> list[TeamMember]:
    return list(
        session.scalars(
            select(TeamMember)
            .where(TeamMember.active.is_(True), TeamMember.role.in_(["approver", "admin"]))
            .order_by(TeamMember.id)
        )
    )


def stage_dates(session: Session, deal_ids: Sequence[int]) -> dict[int, list[tuple[str, datetime]]]:
    """Each deal's program stages with their entry times, in order: one query for all."""
    found: dict[int, list[tuple[str, datetime]]] = {}
    for deal_id, stage, at in session.execute(
        select(StageEvent.deal_id, StageEvent.program_stage, StageEvent.entered_at)
        .where(StageEvent.deal_id.in_(list(deal_ids)), StageEvent.program_stage.is_not(None))
        .order_by(StageEvent.entered_at, StageEvent.id)
    ):
        found.setdefault(deal_id, []).append((str(stage), at))
    return found


def approval_rounds(session: Session, reward_ids: Sequence[int]) -> dict[int, int]:
    """How many times each reward was sent to approval (its ledger says)."""
    return dict(
        session.execute(
            select(RewardLedgerEntry.reward_id, func.count())
            .where(
                RewardLedgerEntry.reward_id.in_(list(reward_ids)),
                RewardLedgerEntry.entry == LedgerEntry.AWAITING_APPROVAL,
            )
            .group_by(RewardLedgerEntry.reward_id)
        ).all()
    )
