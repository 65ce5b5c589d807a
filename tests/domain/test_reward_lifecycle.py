"""What a run does to a reward, without a database: follow its deal (hold at the CRM's own
time, void, recompute, claw back), then the gates at release (approval, yearly cap, tax
form) and netting what the recipient owes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.program_rewards import RewardPolicy
from domain.rewards.accrual import PlannedPart
from domain.rewards.lifecycle import (
    DealNow,
    Due,
    Recipient,
    RewardNow,
    follow_deal,
    release_gates,
)
from domain.stages import ProgramStage as S
from domain.statuses import LedgerEntry as L
from domain.statuses import RewardStatus as R

D = Decimal
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
NOW = datetime(2026, 5, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = RewardPolicy()


def reward(status: R = R.PENDING, **kw: Any) -> RewardNow:
    base: dict[str, Any] = {
        "id": 1,
        "status": status,
        "reward_type": "cash",
        "stage": S.CLOSED_WON,
        "delay_days": 30,
        "amount": D("500.00"),
        "currency": "USD",
        "needs_approval": False,
    }
    if status is not R.PENDING:
        base |= {"qualified_at": T0, "release_after": T0 + 30 * DAY}
    return RewardNow(**(base | kw))


def planned(amount: str, basis: str | None = None) -> PlannedPart:
    return PlannedPart(
        rule_key="r",
        part_index=0,
        parts=1,
        reward_type="cash",
        stage=S.CLOSED_WON,
        delay_days=30,
        amount=D(amount),
        full_amount=D(amount),
        basis_amount=D(basis) if basis is not None else None,
        computation=f"10% of {basis}",
        needs_approval=False,
    )


def deal(
    *entries: tuple[S, datetime], amount: str | None = "5000", stage: S | None = None, **kw: Any
) -> DealNow:
    stage = stage or (entries[-1][0] if entries else None)
    return DealNow(stage, D(amount) if amount else None, tuple(entries), **kw)


def kinds(step: Any) -> list[tuple[L, Decimal]]:
    return [(entry, amount) for entry, amount, _ in step.entries]


WON = deal((S.PROPOSAL, T0 - 5 * DAY), (S.CLOSED_WON, T0))


# --- follow_deal ------------------------------------------------------------------------


def test_pending_holds_from_the_crm_stage_entry_time_not_now() -> None:
    step = follow_deal(reward(), WON, None, NOW, POLICY)
    assert step.status is R.HOLDING
    assert step.fields == {"qualified_at": T0, "release_after": T0 + 30 * DAY}
    assert kinds(step) == [(L.HELD, D("500.00"))]


def test_pending_waits_below_the_stage() -> None:
    assert not follow_deal(reward(), deal((S.PROPOSAL, T0)), None, NOW, POLICY)


def test_a_milestone_counts_from_when_the_won_deal_reached_it() -> None:
    # First payment is a date on a won deal: it is reached when both hold.
    paid = T0 + 10 * DAY
    won_then_paid = deal(
        (S.CLOSED_WON, T0), milestones=((S.FIRST_PAYMENT, paid),), stage=S.FIRST_PAYMENT
    )
    paid_before_won = deal(
        (S.PROPOSAL, T0 - 9 * DAY),
        (S.CLOSED_WON, T0),
        milestones=((S.FIRST_PAYMENT, T0 - 3 * DAY),),
        stage=S.FIRST_PAYMENT,
    )
    first_payment = reward(stage=S.FIRST_PAYMENT)
    assert follow_deal(first_payment, won_then_paid, None, NOW, POLICY).fields["qualified_at"] == (
        paid
    )
    assert follow_deal(first_payment, paid_before_won, None, NOW, POLICY).fields[
        "qualified_at"
    ] == (T0)


def test_closed_lost_inside_the_window_voids_and_says_when() -> None:
    lost = deal((S.CLOSED_WON, T0), (S.CLOSED_LOST, T0 + 5 * DAY))
    step = follow_deal(reward(R.HOLDING), lost, None, T0 + 6 * DAY, POLICY)
    assert step.status is R.VOIDED and step.fields["void_reason"] == "deal_closed_lost"
    assert kinds(step) == [(L.VOIDED, D("500.00"))]
    assert "2026-03-07" in step.entries[0][2]


def test_an_amount_change_recomputes_and_zero_voids() -> None:
    step = follow_deal(reward(R.HOLDING), WON, planned("300.00", "3000"), NOW, POLICY)
    assert step.status is None and step.fields["amount"] == D("300.00")
    assert kinds(step) == [(L.RECOMPUTED, D("-200.00"))]

    gone = follow_deal(reward(R.HOLDING), WON, planned("0", None), NOW, POLICY)
    assert gone.status is R.VOIDED and gone.fields["void_reason"] == "deal_amount_zero"
    assert kinds(gone) == [(L.VOIDED, D("500.00"))]


def test_a_pending_percent_reward_of_a_deal_without_amount_waits() -> None:
    waiting = reward(amount=D(0))
    assert not follow_deal(waiting, replace(WON, amount=None), planned("0"), NOW, POLICY)
    step = follow_deal(waiting, WON, planned("500.00", "5000"), NOW, POLICY)
    assert step.status is R.HOLDING and step.fields["amount"] == D("500.00")
    assert [e for e, _ in kinds(step)] == [L.RECOMPUTED, L.HELD]


def test_a_rise_after_approval_asks_again() -> None:
    approved = reward(R.APPROVED, approved=True)
    step = follow_deal(approved, WON, planned("800.00", "8000"), NOW, POLICY)
    assert step.status is R.AWAITING_APPROVAL
    assert [e for e, _ in kinds(step)] == [L.RECOMPUTED, L.AWAITING_APPROVAL]


FLIP = deal(
    (S.CLOSED_WON, T0),
    (S.PROPOSAL, T0 + 3 * DAY),
    (S.CLOSED_WON, T0 + 8 * DAY),
)


def test_a_flip_flop_neither_holds_twice_nor_restarts_the_window() -> None:
    held = reward(R.HOLDING)
    below = deal((S.CLOSED_WON, T0), (S.PROPOSAL, T0 + 3 * DAY))
    assert not follow_deal(held, below, None, T0 + 4 * DAY, POLICY)
    assert not follow_deal(held, FLIP, None, T0 + 9 * DAY, POLICY)


def test_a_flip_flop_restarts_the_window_when_the_program_says_so() -> None:
    restart = RewardPolicy(restart_window_on_requalify=True)
    step = follow_deal(reward(R.HOLDING), FLIP, None, T0 + 9 * DAY, restart)
    assert step.status is None
    assert step.fields == {"qualified_at": T0 + 8 * DAY, "release_after": T0 + 38 * DAY}
    assert [e for e, _ in kinds(step)] == [L.WINDOW_RESTARTED]
    # Computed again on the next run: the window already restarted, nothing more.
    again = reward(R.HOLDING, qualified_at=T0 + 8 * DAY, release_after=T0 + 38 * DAY)
    assert not follow_deal(again, FLIP, None, T0 + 10 * DAY, restart)


def test_a_won_deal_back_at_its_milestone_restarts_the_window() -> None:
    # The first-payment date stays on the deal: winning it again re-reaches the milestone.
    restart = RewardPolicy(restart_window_on_requalify=True)
    paid = T0 + 2 * DAY
    back = deal(
        (S.CLOSED_WON, T0),
        (S.PROPOSAL, T0 + 5 * DAY),
        (S.CLOSED_WON, T0 + 9 * DAY),
        milestones=((S.FIRST_PAYMENT, paid),),
        stage=S.FIRST_PAYMENT,
    )
    held = reward(
        R.HOLDING, stage=S.FIRST_PAYMENT, qualified_at=paid, release_after=paid + 30 * DAY
    )
    step = follow_deal(held, back, None, T0 + 10 * DAY, restart)
    assert step.fields["qualified_at"] == T0 + 9 * DAY
    assert not follow_deal(held, back, None, T0 + 10 * DAY, POLICY)


def released(**kw: Any) -> RewardNow:
    return reward(
        R.RELEASED, clawback_until=T0 + 30 * DAY + 90 * DAY, **kw
    )  # released at the window's end, 90 days to claw back


LOST_LATER = deal((S.CLOSED_WON, T0), (S.CLOSED_LOST, T0 + 60 * DAY))


def test_closed_lost_after_release_inside_the_clawback_window_claws_back() -> None:
    step = follow_deal(released(), LOST_LATER, None, T0 + 61 * DAY, POLICY)
    assert step.status is R.CLAWED_BACK
    assert kinds(step) == [(L.CLAWED_BACK, D("-500.00"))]


def test_nothing_is_clawed_back_outside_the_window() -> None:
    late = deal((S.CLOSED_WON, T0), (S.CLOSED_LOST, T0 + 200 * DAY))
    assert not follow_deal(released(), late, None, T0 + 200 * DAY, POLICY)
    assert not follow_deal(
        reward(R.RELEASED, clawback_until=None), LOST_LATER, None, T0 + 61 * DAY, POLICY
    )


def test_a_deal_lost_inside_the_window_but_seen_after_it_is_still_clawed_back() -> None:
    # The CRM's own time decides, as it does for qualifying: a late sync does not forgive.
    lost = deal((S.CLOSED_WON, T0), (S.CLOSED_LOST, T0 + 110 * DAY))
    step = follow_deal(released(), lost, None, T0 + 125 * DAY, POLICY)
    assert step.status is R.CLAWED_BACK


def test_an_amount_drop_after_release_claws_back_the_difference() -> None:
    step = follow_deal(released(), WON, planned("350.00", "3500"), T0 + 40 * DAY, POLICY)
    assert step.status is None and step.fields["amount"] == D("350.00")
    assert kinds(step) == [(L.CLAWED_BACK, D("-150.00"))]
    # A rise after release pays nothing more.
    assert not follow_deal(released(), WON, planned("900.00", "9000"), T0 + 40 * DAY, POLICY)


def test_a_paid_reward_is_clawed_back_like_a_released_one() -> None:
    paid = replace(released(), status=R.PAID)
    assert follow_deal(paid, LOST_LATER, None, T0 + 61 * DAY, POLICY).status is R.CLAWED_BACK


def test_final_statuses_are_left_alone() -> None:
    for status in (R.VOIDED, R.CLAWED_BACK):
        assert not follow_deal(reward(status), LOST_LATER, planned("1"), NOW, POLICY)


# --- release_gates ----------------------------------------------------------------------

AT = T0 + 30 * DAY


def due(*rewards: RewardNow, ready: bool = True) -> list[Due]:
    return [Due(r, 90, ready) for r in rewards]


def run(
    items: list[Due], who: Recipient | None = None, policy: RewardPolicy = POLICY
) -> tuple[dict[int, Any], list[Any], Recipient]:
    who = who or Recipient()
    steps, recoveries = release_gates(items, who, policy, AT)
    return dict(steps), recoveries, who


def test_a_due_reward_is_released_with_its_clawback_window() -> None:
    steps, recoveries, who = run(due(reward(R.HOLDING)))
    step = steps[1]
    assert step.status is R.RELEASED and recoveries == []
    assert step.fields["released_at"] == AT and step.fields["net_amount"] == D("500.00")
    assert step.fields["clawback_until"] == AT + 90 * DAY
    assert kinds(step) == [(L.RELEASED, D("500.00"))]
    assert who.released_this_year == D("500.00")


def test_a_deal_below_its_stage_again_waits_without_a_status_change() -> None:
    steps, _, _ = run(due(reward(R.HOLDING), ready=False))
    assert steps == {}


def test_approval_needed_waits_then_an_approved_one_is_released() -> None:
    steps, _, _ = run(due(reward(R.HOLDING, needs_approval=True)))
    assert steps[1].status is R.AWAITING_APPROVAL
    steps, _, _ = run(due(reward(R.APPROVED, needs_approval=True, approved=True)))
    assert steps[1].status is R.RELEASED


CAP = RewardPolicy(yearly_cap={"amount": "1000", "over": "approval"})
CUT = RewardPolicy(yearly_cap={"amount": "1000", "over": "cut"})


def test_the_yearly_cap_in_approval_mode_asks_an_approver() -> None:
    steps, _, _ = run(due(reward(R.HOLDING)), Recipient(released_this_year=D(600)), CAP)
    assert steps[1].status is R.AWAITING_APPROVAL and "yearly cap" in steps[1].fields["wait_reason"]
    approved = reward(R.APPROVED, approved=True)
    steps, _, _ = run(due(approved), Recipient(released_this_year=D(600)), CAP)
    assert steps[1].status is R.RELEASED and steps[1].entries[0][1] == D("500.00")


def test_the_yearly_cap_in_cut_mode_cuts_then_voids_when_nothing_is_left() -> None:
    steps, _, _ = run(due(reward(R.HOLDING)), Recipient(released_this_year=D(600)), CUT)
    step = steps[1]
    assert step.status is R.RELEASED and step.fields["amount"] == D(400)
    assert kinds(step) == [(L.RECOMPUTED, D(-100)), (L.RELEASED, D(400))]
    assert step.fields["net_amount"] == D(400)

    steps, _, _ = run(due(reward(R.HOLDING)), Recipient(released_this_year=D(1000)), CUT)
    assert steps[1].status is R.VOIDED and steps[1].fields["void_reason"] == "yearly_cap_reached"


TAX = RewardPolicy(tax_form_threshold=D(600))


def test_cash_over_the_tax_form_threshold_waits_for_the_form() -> None:
    steps, _, _ = run(due(reward(R.HOLDING)), Recipient(cash_like_this_year=D(200)), TAX)
    assert steps[1].status is R.AWAITING_TAX_FORM
    assert kinds(steps[1]) == [(L.AWAITING_TAX_FORM, D("500.00"))]
    # Still no form on the next run: nothing changes, nothing is written.
    waiting = reward(R.AWAITING_TAX_FORM)
    steps, _, _ = run(due(waiting), Recipient(cash_like_this_year=D(200)), TAX)
    assert steps == {}
    with_form = Recipient(cash_like_this_year=D(200), tax_form_on_file=True)
    steps, _, _ = run(due(waiting), with_form, TAX)
    assert steps[1].status is R.RELEASED


def test_no_tax_form_hold_under_the_threshold_or_for_non_cash_rewards() -> None:
    steps, _, _ = run(due(reward(R.HOLDING)), Recipient(cash_like_this_year=D(100)), TAX)
    assert steps[1].status is R.RELEASED
    credit = reward(R.HOLDING, reward_type="account_credit")
    steps, _, _ = run(due(credit), Recipient(cash_like_this_year=D(5000)), TAX)
    assert steps[1].status is R.RELEASED


def test_a_reward_cut_by_the_cap_still_waits_for_the_tax_form() -> None:
    policy = RewardPolicy(yearly_cap={"amount": "1000", "over": "cut"}, tax_form_threshold=D(600))
    who = Recipient(released_this_year=D(700), cash_like_this_year=D(400))
    steps, _, _ = run(due(reward(R.HOLDING)), who, policy)
    assert steps[1].status is R.AWAITING_TAX_FORM  # 400 + the 300 the cap leaves is over 600


def test_netting_takes_what_the_recipient_owes() -> None:
    steps, recoveries, who = run(due(reward(R.HOLDING)), Recipient(debts=[(7, D(300))]))
    step = steps[1]
    assert kinds(step) == [(L.RELEASED, D("500.00")), (L.NETTED, D(-300))]
    assert step.fields["net_amount"] == D(200)
    assert [(r.reward_id, r.amount, r.source_id) for r in recoveries] == [(7, D(300), 1)]
    assert who.debts == []


def test_a_debt_larger_than_the_reward_nets_it_to_zero_and_stays_owed() -> None:
    steps, recoveries, who = run(due(reward(R.HOLDING)), Recipient(debts=[(7, D(700))]))
    assert steps[1].fields["net_amount"] == D(0)
    assert kinds(steps[1])[1] == (L.NETTED, D("-500.00"))
    assert [r.amount for r in recoveries] == [D("500.00")]
    assert who.debts == [(7, D("200.00"))]


def test_several_debts_are_netted_oldest_first() -> None:
    steps, recoveries, who = run(
        due(reward(R.HOLDING)), Recipient(debts=[(3, D(100)), (4, D(450))])
    )
    assert [(r.reward_id, r.amount) for r in recoveries] == [(3, D(100)), (4, D(400))]
    assert steps[1].fields["net_amount"] == D(0) and who.debts == [(4, D(50))]


def test_rewards_of_one_recipient_in_one_run_see_each_other() -> None:
    first, second, third = (reward(R.HOLDING, id=i) for i in (1, 2, 3))
    steps, _, who = run(due(first, second, third), policy=CAP)
    assert [steps[i].status for i in (1, 2, 3)] == [R.RELEASED, R.RELEASED, R.AWAITING_APPROVAL]
    assert who.released_this_year == D(1000)

    steps, _, who = run(due(first, second), policy=TAX)
    assert [steps[i].status for i in (1, 2)] == [R.RELEASED, R.AWAITING_TAX_FORM]
    assert who.cash_like_this_year == D(500)

    steps, recoveries, _ = run(due(first, second), Recipient(debts=[(9, D(700))]))
    assert [steps[i].fields["net_amount"] for i in (1, 2)] == [D(0), D(300)]
    assert sum(r.amount for r in recoveries) == D(700)


# An amount that moves while a reward waits for its tax form must not slip past the approver.
GATE_NOW = datetime(2026, 6, 1, tzinfo=UTC)
TAX_POLICY = RewardPolicy(tax_form_threshold=Decimal(100))


def _bypass_reward(status, approved=False, needs=False, amount=Decimal(90)):
    return RewardNow(
        id=1,
        status=status,
        reward_type="cash",
        stage=S.CLOSED_WON,
        delay_days=0,
        amount=amount,
        currency="USD",
        needs_approval=needs,
        qualified_at=GATE_NOW - timedelta(days=40),
        release_after=GATE_NOW - timedelta(days=10),
        approved=approved,
    )


def _bypass_planned(amount, needs):
    return PlannedPart("r", 0, 1, "cash", S.CLOSED_WON, 0, amount, amount, amount * 10, "x", needs)


def test_amount_rise_while_awaiting_tax_form_asks_approver_again():
    # approved for 90, then waits for the tax form; the deal grows -> 500 (over approval threshold)
    reward = _bypass_reward(R.AWAITING_TAX_FORM, approved=True, needs=True, amount=Decimal(150))
    deal = DealNow(
        S.CLOSED_WON,
        Decimal(5000),
        ((S.CLOSED_WON, GATE_NOW - timedelta(days=40)),),
    )
    step = follow_deal(reward, deal, _bypass_planned(Decimal(500), True), GATE_NOW, TAX_POLICY)
    assert step.status is R.AWAITING_APPROVAL, "amount rose after approval but no re-approval"


def test_needs_approval_after_recompute_in_tax_wait_is_not_skipped():
    # never approved; needs_approval became True by a recompute while awaiting the tax form
    reward = _bypass_reward(R.AWAITING_TAX_FORM, approved=False, needs=True, amount=Decimal(500))
    who = Recipient(tax_form_on_file=True)
    steps, _ = release_gates([Due(reward, 0, True)], who, TAX_POLICY, GATE_NOW)
    assert steps[0][1].status is not R.RELEASED, "released without any approval"
