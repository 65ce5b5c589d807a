"""Signals -> referral moments, and the guards that keep an ask away. Pure rules.

A moment is a good time to ask an account for an intro (seed: after onboarding, a first ROI,
a renewal or upsell, a high NPS or positive feedback). Guards say when not to ask even then:
a recent detractor score, an open escalation or churn risk, a recent ask, outside the pilot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.program_moments import Guards, Triggers
from domain.signals import SignalKind

EPOCH = date(2020, 1, 6)  # a Monday, so weekly windows line up with ISO weeks


@dataclass(frozen=True)
class SignalFact:
    id: int
    kind: SignalKind
    occurred_at: datetime
    value: Decimal | None = None
    text: str | None = None
    person_id: int | None = None


@dataclass(frozen=True)
class AccountState:
    """What the guards need to know about one account."""

    account_id: int
    segment: str | None = None
    owner_team: str | None = None
    escalation_open: bool = False  # as the CRM says now
    churn_risk: bool = False
    history: Sequence[SignalFact] = field(default_factory=tuple)  # nps/escalation/churn signals
    last_ask_at: datetime | None = None


def trigger_of(signal: SignalFact, triggers: Triggers) -> str | None:
    """The trigger a signal fires, or None when it is not a moment."""
    kind = signal.kind
    if kind is SignalKind.NPS:
        ok = (
            triggers.nps.enabled
            and signal.value is not None
            and signal.value >= (triggers.nps.min_score)
        )
        return "nps" if ok else None
    if kind is SignalKind.CSAT:
        ok = (
            triggers.csat.enabled
            and signal.value is not None
            and signal.value >= (triggers.csat.min_score)
        )
        return "csat" if ok else None
    simple = {
        SignalKind.ONBOARDING_COMPLETED: "onboarding_completed",
        SignalKind.ROI_MILESTONE: "first_roi",
        SignalKind.RENEWAL_SIGNED: "renewal_signed",
        SignalKind.UPSELL_SIGNED: "upsell_signed",
        SignalKind.FEEDBACK_POSITIVE: "positive_feedback",
    }
    name = simple.get(kind)
    return name if name is not None and getattr(triggers, name).enabled else None


def window_key(at: datetime, window_days: int) -> str:
    """The window a moment falls in: one moment per account, trigger and window."""
    return f"{window_days}d-{(at.date() - EPOCH).days // window_days}"


def _open_at(
    history: Sequence[SignalFact], at: datetime, opened: SignalKind, closed: SignalKind
) -> bool:
    state = False
    for fact in sorted(history, key=lambda f: f.occurred_at):
        if fact.occurred_at > at:
            break
        if fact.kind is opened:
            state = True
        elif fact.kind is closed:
            state = False
    return state


def guard_reasons(
    signal: SignalFact, state: AccountState, guards: Guards, triggers: Triggers, now: datetime
) -> list[str]:
    """Every reason not to turn this signal into a moment; empty means go."""
    reasons = []
    if now - signal.occurred_at > timedelta(days=triggers.moment_window_days):
        reasons.append("stale_signal")
    if not guards.rollout.includes(state.segment, state.owner_team):
        reasons.append("outside_rollout")
    return reasons + standing_guards(state, guards, signal.occurred_at, now)


def standing_guards(
    state: AccountState, guards: Guards, since: datetime, now: datetime
) -> list[str]:
    """Reasons the account must not be asked now: an escalation or churn risk open at the
    moment or since, a detractor score from the window before the moment up to now, a recent
    ask. Used when the moment is detected and again when its ask is about to be sent."""
    reasons = []

    def open_between(opened: SignalKind, closed: SignalKind) -> bool:
        events = [f for f in state.history if f.kind in (opened, closed)]
        return (
            _open_at(events, since, opened, closed)
            or _open_at(events, now, opened, closed)
            or (any(f.kind is opened and since <= f.occurred_at <= now for f in events))
        )

    if guards.skip_open_escalation and (
        state.escalation_open
        or open_between(SignalKind.ESCALATION_OPENED, SignalKind.ESCALATION_CLOSED)
    ):
        reasons.append("open_escalation")
    if guards.skip_churn_risk and (
        state.churn_risk
        or open_between(SignalKind.CHURN_RISK_FLAGGED, SignalKind.CHURN_RISK_CLEARED)
    ):
        reasons.append("churn_risk")
    window = timedelta(days=guards.detractor_window_days)
    if any(
        f.kind is SignalKind.NPS
        and f.value is not None
        and f.value <= guards.detractor_max_nps
        and since - window <= f.occurred_at <= now
        for f in state.history
    ):
        reasons.append("recent_detractor")
    if state.last_ask_at is not None and now - state.last_ask_at < timedelta(
        days=guards.account_cooldown_days
    ):
        reasons.append("account_cooldown")
    return reasons
