"""Signals -> referral moments, and the guards that keep an ask away. Pure rules.

A moment is a good time to ask an account for an intro (seed: after onboarding, a first ROI,
a renewal or upsell, a high NPS or positive feedback). Guards say when not to ask even then:
a recent detractor score, an open escalation or churn risk, a recent ask, outside the pilot.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from domain.program_moments import Guards, Triggers
from domain.signals import SignalKind

EPOCH = date(2020, 1, 6)  # a Monday, so weekly windows line up with ISO weeks


class SignalFact(NamedTuple):
    """A signal as the rules see it. A named tuple, not a frozen dataclass: a first day
    builds one per candidate signal and guard signal (about a million at 100k accounts), and
    a frozen dataclass sets each field through ``object.__setattr__``."""

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
    # nps/escalation/churn signals; read with their kinds, times and scores only (no text or
    # person: the guards do not look at them)
    history: Sequence[SignalFact] = field(default_factory=tuple)
    last_ask_at: datetime | None = None

    # Built on first use (the dataclass is frozen; cached_property writes the instance dict).
    @cached_property
    def escalations(self) -> _Toggle:
        return _Toggle(self.history, SignalKind.ESCALATION_OPENED, SignalKind.ESCALATION_CLOSED)

    @cached_property
    def churn_risks(self) -> _Toggle:
        return _Toggle(self.history, SignalKind.CHURN_RISK_FLAGGED, SignalKind.CHURN_RISK_CLEARED)

    @cached_property
    def scores(self) -> _Scores:
        return _Scores(self.history)


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
    name = TRIGGERS_BY_KIND.get(kind)
    return name if name is not None and getattr(triggers, name).enabled else None


# The trigger each kind of signal can fire (NPS and CSAT also need their score).
TRIGGERS_BY_KIND = {
    SignalKind.NPS: "nps",
    SignalKind.CSAT: "csat",
    SignalKind.ONBOARDING_COMPLETED: "onboarding_completed",
    SignalKind.ROI_MILESTONE: "first_roi",
    SignalKind.RENEWAL_SIGNED: "renewal_signed",
    SignalKind.UPSELL_SIGNED: "upsell_signed",
    SignalKind.FEEDBACK_POSITIVE: "positive_feedback",
}
STALE = "stale_signal"


def stale_before(triggers: Triggers, now: datetime) -> datetime:
    """Signals that happened before this are older than the moment window: too late to be a
    good time to ask (detect-moments suppresses them in SQL with this bound)."""
    return now - timedelta(days=triggers.moment_window_days)


def is_stale(occurred_at: datetime, triggers: Triggers, now: datetime) -> bool:
    return occurred_at < stale_before(triggers, now)


def window_key(at: datetime, window_days: int) -> str:
    """The window a moment falls in: one moment per account, trigger and window."""
    return f"{window_days}d-{(at.date() - EPOCH).days // window_days}"


class _Toggle:
    """One guard's opened/closed events in time order, searched by bisection: a batch asks
    about the same account for each of its signals, so the history is sorted once."""

    def __init__(self, history: Sequence[SignalFact], opened: SignalKind, closed: SignalKind):
        # Stable sort: at equal times the later signal (history is in id order) wins.
        events = sorted(
            (f for f in history if f.kind is opened or f.kind is closed),
            key=lambda f: f.occurred_at,
        )
        self.times = [f.occurred_at for f in events]
        self.opens = [f.kind is opened for f in events]
        self.opened_times = [f.occurred_at for f in events if f.kind is opened]

    def open_at(self, at: datetime) -> bool:
        """Open by the last event at or before ``at``."""
        i = bisect_right(self.times, at)
        return i > 0 and self.opens[i - 1]

    def open_between(self, since: datetime, now: datetime) -> bool:
        """Open at some point from ``since`` to ``now``: at either end, or opened between
        (``since`` may come after ``now``: an ask scheduled for a later week)."""
        if self.open_at(since) or self.open_at(now):
            return True
        i = bisect_left(self.opened_times, since)
        return i < len(self.opened_times) and self.opened_times[i] <= now


class _Scores:
    """An account's NPS scores in time order."""

    def __init__(self, history: Sequence[SignalFact]) -> None:
        scores = sorted(
            (
                (f.occurred_at, f.value)
                for f in history
                if f.kind is SignalKind.NPS and f.value is not None
            ),
            key=lambda pair: pair[0],
        )
        self.times = [at for at, _ in scores]
        self.values = [value for _, value in scores]

    def any_at_most(self, limit: Decimal | float, since: datetime, now: datetime) -> bool:
        start, end = bisect_left(self.times, since), bisect_right(self.times, now)
        return any(value <= limit for value in self.values[start:end])


def guard_reasons(
    signal: SignalFact, state: AccountState, guards: Guards, triggers: Triggers, now: datetime
) -> list[str]:
    """Every reason not to turn this signal into a moment; empty means go."""
    reasons = []
    if is_stale(signal.occurred_at, triggers, now):
        reasons.append(STALE)
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
    if guards.skip_open_escalation and (
        state.escalation_open or state.escalations.open_between(since, now)
    ):
        reasons.append("open_escalation")
    if guards.skip_churn_risk and (state.churn_risk or state.churn_risks.open_between(since, now)):
        reasons.append("churn_risk")
    window = timedelta(days=guards.detractor_window_days)
    if state.scores.any_at_most(guards.detractor_max_nps, since - window, now):
        reasons.append("recent_detractor")
    if state.last_ask_at is not None and now - state.last_ask_at < timedelta(
        days=guards.account_cooldown_days
    ):
        reasons.append("account_cooldown")
    return reasons
