"""Facts as they were known on a replayed day: deals at their stage of the day (their later
entries not there yet), referrals once submitted, suppressions once made. Written into the
throwaway copy before each day's program run, the way sync-crm and capture wrote them.

A deal the program's own push created appears the day after the replay pushed that referral
(sync-crm reads it at its next run), never when the candidate program did not push it. Its
history after that is the one the real deal had. A deal's amount is the CRM's current one:
the CRM keeps no history of amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Ask, Deal, Moment, OutboxMessage, Referral, Signal, StageEvent, Suppression
from db.repositories.crm_sync import link_referrals_to_deals
from domain.stages import MILESTONE_PREFIX, ProgramStage, furthest
from domain.statuses import AskStatus, Eligibility
from simulation.backtest.history import AskKey, History, TimedReferral
from tasks.referrals.capture import OPEN_ASKS

CLOSED = (ProgramStage.CLOSED_WON, ProgramStage.CLOSED_LOST)


def deal_as_of(deal: dict[str, Any], events: Sequence[dict[str, Any]], cutoff: datetime) -> dict:
    """The deal as sync-crm would have stored it at ``cutoff``: its latest stage entry before
    then, a won deal at the furthest milestone dated by then, closed only once closed."""
    seen = [e for e in events if e["entered_at"] < cutoff]
    if len(seen) == len(events):
        return dict(deal)
    row = dict(deal)
    stages = [e for e in seen if not e["crm_stage_id"].startswith(MILESTONE_PREFIX)]
    if not stages:  # created, first entry not readable: the deal as it came in
        row.update(closed_at=None, reopened_at=None)
        return row
    last = stages[-1]
    stage = last["program_stage"]
    if stage is ProgramStage.CLOSED_WON:
        reached = [
            e["program_stage"]
            for e in seen
            if e["crm_stage_id"].startswith(MILESTONE_PREFIX) and e["program_stage"] is not None
        ]
        stage = furthest([stage, *reached])
    same_stage = last["crm_stage_id"] == deal["crm_stage_id"]
    closed_now = deal["closed_at"] is not None and deal["closed_at"] < cutoff and same_stage
    closed_at = None
    if last["program_stage"] in CLOSED or closed_now:
        closed_at = deal["closed_at"] if closed_now else last["entered_at"]
    reopened = deal["reopened_at"]
    row.update(
        crm_stage_id=last["crm_stage_id"],
        program_stage=stage,
        stage_entered_at=last["entered_at"],
        closed_at=closed_at,
        reopened_at=reopened if reopened is not None and reopened < cutoff else None,
        crm_updated_at=max(e["entered_at"] for e in seen),
    )
    return row


@dataclass
class Exposure:
    """What of ``history`` the copy holds so far."""

    history: History
    shown_deals: dict[str, dict[str, Any]] = field(default_factory=dict)  # crm id -> as written
    shown_events: set[int] = field(default_factory=set)
    inserted: set[int] = field(default_factory=set)  # referral ids
    suppressions: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._pushed_deal = {
            r.pushed_deal: r for r in self.history.referrals if r.pushed_deal is not None
        }
        self._referrals = sorted(self.history.referrals, key=lambda r: (r.known_at, r.row["id"]))

    def referrals_due(self, cutoff: datetime) -> list[TimedReferral]:
        return [
            r for r in self._referrals if r.known_at < cutoff and r.row["id"] not in self.inserted
        ]

    def insert_referrals(self, session: Session, referrals: Sequence[TimedReferral]) -> int:
        """As capture stored them: pending, with the ask they came from marked intro made.
        Returns how many came from an ask the replay has too."""
        if not referrals:
            return 0
        rows, matched, marks = [], 0, []
        for referral in referrals:
            ask_id = find_ask(session, referral.ask_key) if referral.ask_key else None
            matched += ask_id is not None
            rows.append(_pending(referral, ask_id))
            if ask_id is not None:
                marks.append((ask_id, referral.row["submitted_at"]))
        session.execute(Referral.__table__.insert(), rows)
        for ask_id, at in marks:
            session.execute(
                update(Ask)
                .where(Ask.id == ask_id, Ask.status.in_(OPEN_ASKS))
                .values(status=AskStatus.INTRO_MADE, outcome_at=at)
                .execution_options(synchronize_session=False)
            )
        self.inserted.update(r.row["id"] for r in referrals)
        return matched

    def show(self, session: Session, day_start: datetime, cutoff: datetime) -> None:
        """Deals, stage entries and suppressions known by ``cutoff``; referrals linked to
        their deals as sync-crm links them."""
        pushed = self._pushed_before(session, day_start)
        changed: list[str] = []
        new_pushed: list[TimedReferral] = []
        new_events: list[dict[str, Any]] = []
        for crm_id, deal in self.history.deals.items():
            created = deal["crm_created_at"]
            if created is not None and created >= cutoff:
                continue
            owner = self._pushed_deal.get(crm_id)
            if owner is not None and owner.row["id"] not in pushed:
                continue
            events = self.history.events.get(deal["id"], [])
            fresh = [
                e for e in events if e["entered_at"] < cutoff and e["id"] not in self.shown_events
            ]
            if crm_id in self.shown_deals and not fresh:
                continue
            row = deal_as_of(deal, events, cutoff)
            if crm_id not in self.shown_deals:
                session.execute(Deal.__table__.insert(), [row])
                if owner is not None:
                    new_pushed.append(owner)
            elif row != self.shown_deals[crm_id]:
                session.execute(
                    update(Deal.__table__).where(Deal.__table__.c.id == row["id"]).values(row)
                )
            self.shown_deals[crm_id] = row
            new_events += [{**e, "referral_id": None} for e in fresh]
            changed.append(crm_id)
        if new_events:
            session.execute(StageEvent.__table__.insert(), new_events)
            self.shown_events.update(e["id"] for e in new_events)
        for referral in new_pushed:
            real = referral.row
            session.execute(
                update(Referral)
                .where(Referral.id == real["id"])
                .values(
                    crm_company_id=real["crm_company_id"],
                    crm_contact_id=real["crm_contact_id"],
                    pushed_at=pushed[real["id"]],
                )
                .execution_options(synchronize_session=False)
            )
        captured = [
            r.capture_deal
            for r in self.history.referrals
            if r.capture_deal in self.shown_deals and r.row["id"] in self.inserted
        ]
        link_referrals_to_deals(session, sorted({*changed, *(c for c in captured if c)}))
        self._suppressions(session, cutoff)

    def _pushed_before(self, session: Session, day_start: datetime) -> dict[int, datetime]:
        """Referrals whose CRM push the replay enqueued before today (never delivered: this
        is where the real deal is taken to exist from)."""
        rows = session.execute(
            select(OutboxMessage.subject_id, OutboxMessage.created_at).where(
                OutboxMessage.operation == "push_referral",
                OutboxMessage.subject_type == "referral",
                OutboxMessage.created_at < day_start,
            )
        ).all()
        return {referral_id: at for referral_id, at in rows if referral_id is not None}

    def _suppressions(self, session: Session, cutoff: datetime) -> None:
        rows = [
            s
            for s in self.history.suppressions
            if s["created_at"] < cutoff and s["email"] not in self.suppressions
        ]
        if rows:
            session.execute(Suppression.__table__.insert(), rows)
            self.suppressions.update(s["email"] for s in rows)


def find_ask(session: Session, key: AskKey) -> int | None:
    """The replay's ask for the same account, trigger and moment date, if it made one."""
    account_id, trigger, on = key
    rows = session.execute(
        select(Ask.id, Signal.occurred_at)
        .join(Moment, Moment.id == Ask.moment_id)
        .join(Signal, Signal.id == Moment.signal_id)
        .where(Ask.account_id == account_id, Moment.trigger == trigger)
        .order_by(Ask.id)
    ).all()
    return next((ask_id for ask_id, at in rows if at.date() == on), None)


def _pending(referral: TimedReferral, ask_id: int | None) -> dict[str, Any]:
    """The referral as capture stored it: nothing decided, pushed or told yet."""
    return {
        **referral.row,
        "ask_id": ask_id,
        "eligibility": Eligibility.PENDING,
        "reason_codes": [],
        "decision_text": None,
        "disclosure": None,
        "duplicate_of_id": None,
        "reviewed_by": None,
        "reviewed_at": None,
        "review_reason": None,
        "pushed_at": None,
        "push_error": None,
        "crm_company_id": None,
        "crm_contact_id": None,
        "crm_deal_id": referral.capture_deal,
        "deal_id": None,
        "program_stage": None,
        "feedback_step": None,
        "csm_noted_step": None,
        "decided_at": None,
    }
