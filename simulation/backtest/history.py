"""What happened, read once from a snapshot of the real database: the timed facts the replay
shows day by day (deals and their stage entries, referrals as submitted, suppressions, tax
forms) and the human decisions it replays where they still fit (CSMs' ask outcomes, review
decisions, approvers' reward decisions, payments)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, func, select

from db.models import (
    Ask,
    Deal,
    Moment,
    Referral,
    Reward,
    RewardLedgerEntry,
    Signal,
    StageEvent,
    Suppression,
    TaxForm,
    TeamMember,
)
from domain.statuses import AskStatus, LedgerEntry

AskKey = tuple[int, str, date]
"""An ask as a person knows it: the account, the moment's trigger and the moment's date."""
RewardKey = tuple[int, str, int]
"""A reward as the program keys it: referral, rule and part."""

_HUMAN_OUTCOMES = {
    AskStatus.ASKED: "asked",
    AskStatus.DECLINED: "declined",
    AskStatus.SNOOZED: "snoozed",
    AskStatus.INTRO_MADE: "intro",
}


@dataclass(frozen=True)
class AskOutcome:
    key: AskKey
    outcome: str  # asked | declined | snoozed | intro, as `referrals asks record` takes it
    at: datetime
    note: str | None


@dataclass(frozen=True)
class ReviewDecision:
    referral_id: int
    approve: bool
    by: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class RewardDecision:
    key: RewardKey
    approve: bool
    by: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Payment:
    key: RewardKey
    reference: str
    at: datetime


@dataclass(frozen=True)
class TimedReferral:
    """A referral as it was submitted, with when the program first knew of it and the CRM
    deal it came with (a rep's deal carrying a code) or the one the program's push created."""

    row: dict[str, Any]
    known_at: datetime
    ask_key: AskKey | None
    capture_deal: str | None  # CRM id of a deal that existed before the referral
    pushed_deal: str | None  # CRM id of the deal the program's push created


@dataclass(frozen=True)
class DayTimes:
    """When in the day the program's steps ran (UTC), read from history; the demo's times
    when history does not say."""

    detect: time = time(8)
    prompt: time = time(9)
    track: time = time(10)
    release: time = time(10)


@dataclass
class History:
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)  # by CRM id, as now
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # deal id -> entries
    referrals: list[TimedReferral] = field(default_factory=list)
    suppressions: list[dict[str, Any]] = field(default_factory=list)
    tax_forms: list[dict[str, Any]] = field(default_factory=list)
    ask_outcomes: list[AskOutcome] = field(default_factory=list)
    reviews: list[ReviewDecision] = field(default_factory=list)
    reward_decisions: list[RewardDecision] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    times: DayTimes = field(default_factory=DayTimes)
    first_fact: datetime | None = None
    last_fact: datetime | None = None


def read_history(connection: Connection) -> History:
    history = History()
    history.deals = {
        row["crm_id"]: row
        for row in _rows(connection, select(Deal.__table__).order_by(Deal.__table__.c.id))
    }
    for event in _rows(
        connection,
        select(StageEvent.__table__).order_by(
            StageEvent.__table__.c.entered_at, StageEvent.__table__.c.id
        ),
    ):
        history.events.setdefault(event["deal_id"], []).append(event)
    keys = _ask_keys(connection)
    history.referrals = _referrals(connection, keys, history.deals)
    history.suppressions = _rows(connection, select(Suppression.__table__))
    history.tax_forms = _rows(connection, select(TaxForm.__table__))
    history.ask_outcomes = _ask_outcomes(connection, keys, history.referrals)
    history.reviews = _reviews(connection)
    history.reward_decisions, history.payments = _reward_decisions(connection)
    history.times = _times(connection)
    history.first_fact, history.last_fact = _bounds(connection, history)
    return history


def _rows(connection: Connection, query: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(query).mappings()]


def _ask_keys(connection: Connection) -> dict[int, AskKey]:
    rows = connection.execute(
        select(Ask.id, Ask.account_id, Moment.trigger, Signal.occurred_at)
        .join(Moment, Moment.id == Ask.moment_id)
        .join(Signal, Signal.id == Moment.signal_id)
    ).all()
    return {ask_id: (account_id, trigger, at.date()) for ask_id, account_id, trigger, at in rows}


def _referrals(
    connection: Connection, keys: dict[int, AskKey], deals: dict[str, dict[str, Any]]
) -> list[TimedReferral]:
    by_key = {d["referral_key"]: crm_id for crm_id, d in deals.items() if d["referral_key"]}
    found = []
    for row in _rows(connection, select(Referral.__table__).order_by(Referral.__table__.c.id)):
        # A referral captured by sync-crm (a rep's deal) is stamped with the clock of the
        # machine that synced; the time the program decided it is when it knew it at latest.
        known_at = min(t for t in (row["submitted_at"], row["decided_at"]) if t is not None)
        capture, pushed = None, None
        for crm_id in dict.fromkeys(
            c for c in (row["crm_deal_id"], by_key.get(row["external_id"])) if c
        ):
            deal = deals.get(crm_id)
            created = deal["crm_created_at"] if deal else None
            if created is not None and created < known_at and crm_id == row["crm_deal_id"]:
                capture = crm_id  # the deal was there first: the referral came with it
            elif deal is not None and pushed is None:
                pushed = crm_id
        found.append(
            TimedReferral(
                row, known_at, keys.get(row["ask_id"]) if row["ask_id"] else None, capture, pushed
            )
        )
    return found


def _ask_outcomes(
    connection: Connection, keys: dict[int, AskKey], referrals: Iterable[TimedReferral]
) -> list[AskOutcome]:
    """What CSMs recorded, at the time they recorded it. An intro that came with a referral
    is the referral's doing (capture marks the ask), not a separate decision."""
    from_referrals = {r.row["ask_id"] for r in referrals if r.row["ask_id"]}
    rows = connection.execute(
        select(Ask.id, Ask.status, Ask.outcome_at, Ask.outcome_note).where(
            Ask.status.in_(list(_HUMAN_OUTCOMES)), Ask.outcome_at.is_not(None)
        )
    ).all()
    return sorted(
        (
            AskOutcome(keys[ask_id], _HUMAN_OUTCOMES[status], at, note)
            for ask_id, status, at, note in rows
            if ask_id in keys and not (status is AskStatus.INTRO_MADE and ask_id in from_referrals)
        ),
        key=lambda o: o.at,
    )


def _reviews(connection: Connection) -> list[ReviewDecision]:
    rows = connection.execute(
        select(
            Referral.id,
            Referral.reason_codes,
            Referral.reviewed_by,
            Referral.review_reason,
            Referral.reviewed_at,
        ).where(Referral.reviewed_at.is_not(None), Referral.reviewed_by.is_not(None))
    ).all()
    return sorted(
        (
            ReviewDecision(rid, "approved_in_review" in (codes or []), by, reason or "", at)
            for rid, codes, by, reason, at in rows
        ),
        key=lambda r: r.at,
    )


def _reward_decisions(connection: Connection) -> tuple[list[RewardDecision], list[Payment]]:
    """Approvers' decisions from the ledger (every round, not only the last), and payments."""
    members = dict(connection.execute(select(TeamMember.id, TeamMember.email)).all())
    rows = connection.execute(
        select(
            Reward.referral_id,
            Reward.rule_key,
            Reward.part_index,
            Reward.payment_reference,
            RewardLedgerEntry.entry,
            RewardLedgerEntry.actor,
            RewardLedgerEntry.note,
            RewardLedgerEntry.occurred_at,
        )
        .join(RewardLedgerEntry, RewardLedgerEntry.reward_id == Reward.id)
        .where(
            RewardLedgerEntry.entry.in_(
                [LedgerEntry.APPROVED, LedgerEntry.REJECTED, LedgerEntry.PAID]
            )
        )
        .order_by(RewardLedgerEntry.occurred_at, RewardLedgerEntry.id)
    ).all()
    decisions, payments = [], []
    for referral_id, rule, part, reference, entry, actor, note, at in rows:
        key = (referral_id, rule, part)
        if entry is LedgerEntry.PAID:
            payments.append(Payment(key, reference or "paid", at))
            continue
        member = actor.removeprefix("team_member:")
        email = members.get(int(member)) if member.isdigit() else None
        if email:
            decisions.append(
                RewardDecision(key, entry is LedgerEntry.APPROVED, email, note or "", at)
            )
    return decisions, payments


def _times(connection: Connection) -> DayTimes:
    """The time of day each step most often ran at, from what it stamped."""
    default = DayTimes()

    def usual(values: Iterable[datetime | None], fallback: time) -> time:
        counted = Counter(v.astimezone(UTC).time() for v in values if v is not None)
        return counted.most_common(1)[0][0] if counted else fallback

    return DayTimes(
        detect=usual(connection.scalars(select(Moment.detected_at)), default.detect),
        prompt=usual(connection.scalars(select(Ask.prompted_at)), default.prompt),
        track=usual(connection.scalars(select(Referral.decided_at)), default.track),
        release=usual(
            connection.scalars(
                select(RewardLedgerEntry.occurred_at).where(
                    RewardLedgerEntry.actor == "flow:release-rewards"
                )
            ),
            default.release,
        ),
    )


def _bounds(connection: Connection, history: History) -> tuple[datetime | None, datetime | None]:
    """The first and last fact or program step: signals, referrals, and what the program
    stamped (moments, asks, prompts, ledger) so the replay covers every day it
    ran. Deals' stage entries only extend the end: a book's deals go back years."""
    times: list[datetime] = [r.known_at for r in history.referrals]
    times += [o.at for o in history.ask_outcomes]
    for column in (Signal.occurred_at, Moment.detected_at, Ask.created_for):
        times += _first_and_last(connection, column)
    first = min(times) if times else None
    for column in (RewardLedgerEntry.occurred_at, StageEvent.entered_at, Ask.prompted_at):
        times += _first_and_last(connection, column)[1:]
    return first, max(times) if times else None


def _first_and_last(connection: Connection, column: Any) -> list[datetime]:
    first, last = connection.execute(select(func.min(column), func.max(column))).one()
    return [t for t in (first, last) if t is not None]
