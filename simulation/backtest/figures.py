"""The figures a backtest compares, read the same way from the real database (what the
current program did) and from the replay's copy (what the candidate would have done):

- asks created in the period (``created_for``): in total, by trigger, by CSM, by outcome;
- referrals submitted in the period: by decision and by reason code, as decided at its end;
- rewards accrued in the period: by state at its end, count and amount;
- messages enqueued in the period, by channel (the replay's are never sent).

States "at the end of the period" come from the ledger (rewards) and decision times
(referrals), so a period that ends before today is read as it stood then.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Ask, Moment, OutboxMessage, Referral, Reward, RewardLedgerEntry, TeamMember
from domain.statuses import Eligibility, LedgerEntry, RewardStatus

_STATUS_OF = {
    LedgerEntry.ACCRUED: RewardStatus.PENDING,
    LedgerEntry.HELD: RewardStatus.HOLDING,
    LedgerEntry.WINDOW_RESTARTED: RewardStatus.HOLDING,
    LedgerEntry.AWAITING_APPROVAL: RewardStatus.AWAITING_APPROVAL,
    LedgerEntry.AWAITING_TAX_FORM: RewardStatus.AWAITING_TAX_FORM,
    LedgerEntry.APPROVED: RewardStatus.APPROVED,
    LedgerEntry.RELEASED: RewardStatus.RELEASED,
    LedgerEntry.PAID: RewardStatus.PAID,
    LedgerEntry.VOIDED: RewardStatus.VOIDED,
    LedgerEntry.CLAWED_BACK: RewardStatus.CLAWED_BACK,
}
"""The status a ledger entry leaves its reward in (the others change only amounts)."""
_REVIEW_CODES = {"approved_in_review", "rejected_in_review"}
_CAPTURE_ACK = "referral_received"
"""Capture's "thanks, we have it": written when the referral is submitted, not by the
program's rules, so neither side counts it."""


@dataclass
class Figures:
    asks: int = 0
    asks_by_trigger: Counter[str] = field(default_factory=Counter)
    asks_by_csm: Counter[str] = field(default_factory=Counter)
    asks_by_outcome: Counter[str] = field(default_factory=Counter)
    referrals: int = 0
    by_decision: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    rewards: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    rewards_by_rule: dict[str, dict[str, tuple[int, Decimal]]] = field(default_factory=dict)
    messages: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "asks": {
                "created": self.asks,
                "by_trigger": dict(sorted(self.asks_by_trigger.items())),
                "by_csm": dict(sorted(self.asks_by_csm.items())),
                "by_outcome": dict(sorted(self.asks_by_outcome.items())),
            },
            "referrals": {
                "submitted": self.referrals,
                "by_decision": dict(sorted(self.by_decision.items())),
                "by_reason": dict(sorted(self.by_reason.items())),
            },
            "rewards": {
                state: {"count": count, "amount": str(amount)}
                for state, (count, amount) in sorted(self.rewards.items())
            },
            "rewards_by_rule": {
                rule: {
                    state: {"count": count, "amount": str(amount)}
                    for state, (count, amount) in sorted(states.items())
                }
                for rule, states in sorted(self.rewards_by_rule.items())
            },
            "messages": dict(sorted(self.messages.items())),
        }


def read_figures(session: Session, start: datetime, end: datetime) -> Figures:
    """Figures for ``[start, end)``."""
    figures = Figures()
    _asks(session, start, end, figures)
    _referrals(session, start, end, figures)
    _rewards(session, start, end, figures)
    for channel, template in session.execute(
        select(OutboxMessage.channel, OutboxMessage.template).where(
            OutboxMessage.created_at >= start, OutboxMessage.created_at < end
        )
    ):
        if template != _CAPTURE_ACK:
            figures.messages[str(channel)] += 1
    return figures


def _asks(session: Session, start: datetime, end: datetime, figures: Figures) -> None:
    rows = session.execute(
        select(Ask.status, Moment.trigger, TeamMember.email)
        .join(Moment, Moment.id == Ask.moment_id)
        .join(TeamMember, TeamMember.id == Ask.csm_id)
        .where(Ask.created_for >= start, Ask.created_for < end)
    ).all()
    for status, trigger, email in rows:
        figures.asks += 1
        figures.asks_by_trigger[trigger] += 1
        figures.asks_by_csm[email] += 1
        figures.asks_by_outcome[str(status)] += 1


def _referrals(session: Session, start: datetime, end: datetime, figures: Figures) -> None:
    rows = session.execute(
        select(
            Referral.submitted_at,
            Referral.decided_at,
            Referral.reviewed_at,
            Referral.eligibility,
            Referral.reason_codes,
        )
    ).all()
    for submitted, decided, reviewed, eligibility, codes in rows:
        # A referral sync-crm captured is stamped with the syncing machine's clock; the
        # program's decision says when it was known at the latest.
        known = min(t for t in (submitted, decided) if t is not None)
        if not start <= known < end:
            continue
        decision, reasons = str(eligibility), list(codes or [])
        if decided is None or decided >= end:
            decision, reasons = str(Eligibility.PENDING), []
        elif reviewed is not None and reviewed >= end:
            decision = str(Eligibility.REVIEW)
            reasons = [r for r in reasons if r not in _REVIEW_CODES]
        figures.referrals += 1
        figures.by_decision[decision] += 1
        figures.by_reason.update(reasons)


def _rewards(session: Session, start: datetime, end: datetime, figures: Figures) -> None:
    rewards = {
        reward_id: (status, amount, rule)
        for reward_id, status, amount, rule in session.execute(
            select(Reward.id, Reward.status, Reward.amount, Reward.rule_key)
        )
    }
    ledger: dict[int, list[tuple[LedgerEntry, Decimal, datetime]]] = defaultdict(list)
    for reward_id, entry, amount, at in session.execute(
        select(
            RewardLedgerEntry.reward_id,
            RewardLedgerEntry.entry,
            RewardLedgerEntry.amount,
            RewardLedgerEntry.occurred_at,
        ).order_by(RewardLedgerEntry.occurred_at, RewardLedgerEntry.id)
    ):
        ledger[reward_id].append((entry, amount, at))
    totals: dict[str, tuple[int, Decimal]] = {}
    for reward_id, entries in ledger.items():
        accrued = next((at for entry, _, at in entries if entry is LedgerEntry.ACCRUED), None)
        if accrued is None or not start <= accrued < end or reward_id not in rewards:
            continue
        status, amount, rule = rewards[reward_id]
        later = [(e, a) for e, a, at in entries if at >= end]
        if later:  # read the reward as it stood at the end of the period
            amount -= sum((a for e, a in later if e is LedgerEntry.RECOMPUTED), Decimal(0))
            status = next(
                _STATUS_OF[e] for e, _, at in reversed(entries) if at < end and e in _STATUS_OF
            )
        for into in (totals, figures.rewards_by_rule.setdefault(rule, {})):
            count, total = into.get(str(status), (0, Decimal(0)))
            into[str(status)] = (count + 1, total + Decimal(str(amount)))
    figures.rewards = totals
