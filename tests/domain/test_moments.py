"""Each trigger and each guard, as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.moments import (
    AccountState,
    SignalFact,
    guard_reasons,
    standing_guards,
    trigger_of,
    window_key,
)
from domain.program import load_preset
from domain.signals import SignalKind as K

PROGRAM = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def sig(kind: K, value: float | None = None, days_ago: float = 1, id: int = 1) -> SignalFact:
    return SignalFact(
        id, kind, NOW - timedelta(days=days_ago), Decimal(str(value)) if value is not None else None
    )


@pytest.mark.parametrize(
    ("signal", "trigger"),
    [
        (sig(K.NPS, 9), "nps"),
        (sig(K.NPS, 10), "nps"),
        (sig(K.NPS, 8), None),
        (sig(K.CSAT, 5), "csat"),
        (sig(K.CSAT, 4), None),
        (sig(K.ONBOARDING_COMPLETED), "onboarding_completed"),
        (sig(K.ROI_MILESTONE), "first_roi"),
        (sig(K.RENEWAL_SIGNED), "renewal_signed"),
        (sig(K.UPSELL_SIGNED), "upsell_signed"),
        (sig(K.FEEDBACK_POSITIVE), "positive_feedback"),
        (sig(K.FEEDBACK_NEGATIVE), None),
        (sig(K.ESCALATION_OPENED), None),
    ],
)
def test_each_trigger(signal, trigger):
    assert trigger_of(signal, PROGRAM.triggers) == trigger


def test_a_disabled_trigger_fires_nothing_and_thresholds_come_from_the_program():
    triggers = PROGRAM.triggers.model_copy(
        update={
            "renewal_signed": PROGRAM.triggers.renewal_signed.model_copy(update={"enabled": False}),
            "nps": PROGRAM.triggers.nps.model_copy(update={"min_score": 10}),
        }
    )
    assert trigger_of(sig(K.RENEWAL_SIGNED), triggers) is None
    assert trigger_of(sig(K.NPS, 9), triggers) is None
    assert trigger_of(sig(K.NPS, 10), triggers) == "nps"


def test_windows_group_moments():
    days = PROGRAM.triggers.moment_window_days
    first = window_key(NOW, days)
    assert window_key(NOW + timedelta(hours=3), days) == first
    assert window_key(NOW + timedelta(days=days), days) != first


def reasons(state: AccountState, signal: SignalFact | None = None, guards=None) -> list[str]:
    return guard_reasons(
        signal or sig(K.NPS, 10), state, guards or PROGRAM.guards, PROGRAM.triggers, NOW
    )


def test_no_guard_applies_to_a_quiet_happy_account():
    assert reasons(AccountState(1, "smb", "team-north")) == []


def test_stale_signals_are_not_moments():
    old = sig(K.NPS, 10, days_ago=PROGRAM.triggers.moment_window_days + 1)
    assert reasons(AccountState(1), old) == ["stale_signal"]


def test_open_escalation_from_the_crm_flag_or_from_signals():
    assert reasons(AccountState(1, escalation_open=True)) == ["open_escalation"]
    opened = sig(K.ESCALATION_OPENED, days_ago=5, id=2)
    closed = sig(K.ESCALATION_CLOSED, days_ago=3, id=3)
    assert reasons(AccountState(1, history=(opened,))) == ["open_escalation"]
    assert reasons(AccountState(1, history=(opened, closed))) == []


def test_churn_risk():
    flagged = sig(K.CHURN_RISK_FLAGGED, days_ago=10, id=2)
    assert reasons(AccountState(1, history=(flagged,))) == ["churn_risk"]
    assert reasons(AccountState(1, churn_risk=True)) == ["churn_risk"]


def test_recent_detractor_score_blocks_but_an_old_one_does_not():
    recent = sig(K.NPS, 3, days_ago=20, id=2)
    old = sig(K.NPS, 3, days_ago=PROGRAM.guards.detractor_window_days + 5, id=3)
    assert reasons(AccountState(1, history=(recent,))) == ["recent_detractor"]
    assert reasons(AccountState(1, history=(old,))) == []


def test_account_cooldown():
    recent_ask = NOW - timedelta(days=PROGRAM.guards.account_cooldown_days - 1)
    long_ago = NOW - timedelta(days=PROGRAM.guards.account_cooldown_days + 1)
    assert reasons(AccountState(1, last_ask_at=recent_ask)) == ["account_cooldown"]
    assert reasons(AccountState(1, last_ask_at=long_ago)) == []


def test_rollout_scope_by_segment_and_team():
    guards = PROGRAM.guards.model_copy(
        update={
            "rollout": PROGRAM.guards.rollout.model_copy(
                update={"segments": ("enterprise",), "teams": ("pilot",)}
            )
        }
    )
    assert reasons(AccountState(1, "enterprise", "pilot"), guards=guards) == []
    assert reasons(AccountState(1, "smb", "pilot"), guards=guards) == ["outside_rollout"]
    assert reasons(AccountState(1, "enterprise", "team-north"), guards=guards) == [
        "outside_rollout"
    ]


def test_several_guards_are_all_named():
    state = AccountState(
        1, escalation_open=True, churn_risk=True, history=(sig(K.NPS, 2, days_ago=2, id=9),)
    )
    assert reasons(state) == ["open_escalation", "churn_risk", "recent_detractor"]


def test_trouble_after_the_good_moment_also_stops_the_ask():
    good = sig(K.NPS, 10, days_ago=5, id=1)
    escalated = sig(K.ESCALATION_OPENED, days_ago=1, id=2)
    detractor = sig(K.NPS, 2, days_ago=1, id=3)
    assert reasons(AccountState(1, history=(escalated,)), good) == ["open_escalation"]
    assert reasons(AccountState(1, history=(detractor,)), good) == ["recent_detractor"]


# The guards as first written: every history read in full for each question. The rules
# above search a sorted history instead; they must answer exactly as these do.
def _open_at_reference(history, at, opened, closed) -> bool:
    state = False
    for f in sorted(history, key=lambda f: f.occurred_at):
        if f.occurred_at > at:
            break
        if f.kind is opened:
            state = True
        elif f.kind is closed:
            state = False
    return state


def _standing_reference(state: AccountState, guards, since, now) -> list[str]:
    def open_between(opened: K, closed: K) -> bool:
        events = [f for f in state.history if f.kind in (opened, closed)]
        return (
            _open_at_reference(events, since, opened, closed)
            or _open_at_reference(events, now, opened, closed)
            or any(f.kind is opened and since <= f.occurred_at <= now for f in events)
        )

    reasons = []
    if guards.skip_open_escalation and (
        state.escalation_open or open_between(K.ESCALATION_OPENED, K.ESCALATION_CLOSED)
    ):
        reasons.append("open_escalation")
    if guards.skip_churn_risk and (
        state.churn_risk or open_between(K.CHURN_RISK_FLAGGED, K.CHURN_RISK_CLEARED)
    ):
        reasons.append("churn_risk")
    window = timedelta(days=guards.detractor_window_days)
    if any(
        f.kind is K.NPS
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


GUARD_KINDS = [
    K.NPS,
    K.ESCALATION_OPENED,
    K.ESCALATION_CLOSED,
    K.CHURN_RISK_FLAGGED,
    K.CHURN_RISK_CLEARED,
]


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(GUARD_KINDS),
            st.integers(-10, 40),  # days ago (some after now): few, so equal times are common
            st.one_of(st.none(), st.integers(0, 10)),
        ),
        max_size=12,
    ),
    since_days_ago=st.integers(-10, 40),  # negative: an ask scheduled for a later week
    flags=st.tuples(st.booleans(), st.booleans()),
)
def test_the_sorted_guards_answer_as_the_full_scan_does(events, since_days_ago, flags):
    history = tuple(
        SignalFact(i, kind, NOW - timedelta(days=days), None if v is None else Decimal(v))
        for i, (kind, days, v) in enumerate(events)
    )
    state = AccountState(1, escalation_open=flags[0], churn_risk=flags[1], history=history)
    since = NOW - timedelta(days=since_days_ago)
    assert standing_guards(state, PROGRAM.guards, since, NOW) == _standing_reference(
        state, PROGRAM.guards, since, NOW
    )
