"""What a run does to a reward: follow its deal (qualify, hold, void, recompute, claw back),
then, once the hold window is over, pass it through the gates (approval, yearly cap, tax
form) and release it, netting what the recipient owes. Pure.

Each change is a ``Step``: the new status (or none), the fields to set, and the ledger rows
that explain it. The caller applies a step only if the reward still has the status the step
was computed from, so a step is taken once however many runs compute it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.program_rewards import RewardPolicy
from domain.rewards.accrual import PlannedPart, money
from domain.stages import ProgramStage, furthest, reached
from domain.statuses import LedgerEntry, RewardStatus

OPEN = frozenset(
    {
        RewardStatus.PENDING,
        RewardStatus.HOLDING,
        RewardStatus.AWAITING_APPROVAL,
        RewardStatus.AWAITING_TAX_FORM,
        RewardStatus.APPROVED,
    }
)
OUT = frozenset({RewardStatus.RELEASED, RewardStatus.PAID})


@dataclass(frozen=True)
class DealNow:
    """The referral's deal as sync-crm last saw it: its stage entries in time order, and the
    dates of its post-sale milestones (date properties on the deal, such as first payment)."""

    stage: ProgramStage | None
    amount: Decimal | None
    entries: tuple[tuple[ProgramStage, datetime], ...] = ()
    milestones: tuple[tuple[ProgramStage, datetime], ...] = ()

    def at_or_past(self, stage: ProgramStage) -> bool:
        return self.stage is not None and reached(self.stage, stage)

    def timeline(self) -> list[tuple[ProgramStage, datetime]]:
        """The deal's program stage after each entry, read as sync-crm reads the deal today:
        a milestone counts only while the deal is won, so a milestone dated before the win
        is reached at the win, and a deal won again after falling back is at its milestone
        again (the date stays on the deal)."""
        stages = [(s, at, False) for s, at in self.entries]
        dates = [(s, at, True) for s, at in self.milestones]
        # stable sort: at a tie the stage entry comes before the milestone
        events = sorted([*stages, *dates], key=lambda event: event[1])
        base: ProgramStage | None = None
        dated: list[ProgramStage] = []
        out: list[tuple[ProgramStage, datetime]] = []
        for stage, at, milestone in events:
            if milestone:
                dated.append(stage)
            else:
                base = stage
            if base is not None:
                won = base is ProgramStage.CLOSED_WON
                out.append(((furthest([base, *dated]) or base) if won else base, at))
        return out

    def first_reached(self, stage: ProgramStage) -> datetime | None:
        """The CRM's own time the deal first reached ``stage`` or a later one."""
        return next((at for s, at in self.timeline() if reached(s, stage)), None)

    def last_reached(self, stage: ProgramStage) -> datetime | None:
        """When the deal's latest stretch at or past ``stage`` began (after its last fall
        below it)."""
        start = None
        for s, at in self.timeline():
            start = (start or at) if reached(s, stage) else None
        return start

    def lost_at(self) -> datetime | None:
        return next((at for s, at in reversed(self.entries) if s is ProgramStage.CLOSED_LOST), None)


@dataclass(frozen=True)
class RewardNow:
    id: int
    status: RewardStatus
    reward_type: str
    stage: ProgramStage
    delay_days: int
    amount: Decimal
    currency: str
    needs_approval: bool
    qualified_at: datetime | None = None
    release_after: datetime | None = None
    clawback_until: datetime | None = None
    approved: bool = False
    net_amount: Decimal | None = None
    # Finance has it (exported in a batch, or paid): a reversal is then money to recover.
    with_finance: bool = False
    basis_amount: Decimal | None = None
    # Today's rule gives another amount for the same deal amount: the program was edited.
    rule_changed: bool = False


@dataclass
class Step:
    status: RewardStatus | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    entries: list[tuple[LedgerEntry, Decimal, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.status or self.fields or self.entries)


@dataclass(frozen=True)
class Recovery:
    """Part of a recipient's debt settled by netting: a positive ledger row on the reward
    that was clawed back."""

    reward_id: int
    amount: Decimal
    note: str
    source_id: int  # the reward whose release netted it


def _when(at: datetime | None) -> str:
    return at.date().isoformat() if at else "an unknown date"


def follow_deal(
    reward: RewardNow,
    deal: DealNow,
    planned: PlannedPart | None,
    now: datetime,
    policy: RewardPolicy,
) -> Step:
    """What the deal's latest state means for ``reward``: void or recompute while it is not
    paid out, claw back inside the clawback window after, qualify and hold when the part's
    stage is reached (at the CRM's own entry time)."""
    step = Step()
    if reward.status in OUT:
        return _after_payout(reward, deal, planned, now)
    if reward.status not in OPEN:
        return step
    if deal.stage is ProgramStage.CLOSED_LOST:
        step.status = RewardStatus.VOIDED
        step.fields = {"voided_at": now, "void_reason": "deal_closed_lost", "wait_reason": None}
        note = f"the deal closed lost on {_when(deal.lost_at())}, before release"
        step.entries.append((LedgerEntry.VOIDED, reward.amount, note))
        return step
    amount = reward.amount
    if planned is not None and planned.amount != reward.amount:
        if planned.amount <= 0 and reward.status is not RewardStatus.PENDING:
            step.status = RewardStatus.VOIDED
            step.fields = {"voided_at": now, "void_reason": "deal_amount_zero"}
            note = "the deal has no amount any more, so the reward is nothing"
            step.entries.append((LedgerEntry.VOIDED, reward.amount, note))
            return step
        amount = planned.amount
        step.fields |= _recomputed(planned)
        why = (
            "the program's rule changed"
            if reward.rule_changed
            else f"deal amount now {money(planned.basis_amount or Decimal(0), reward.currency)}"
        )
        note = (
            f"{why}: {money(reward.amount, reward.currency)} -> "
            f"{money(amount, reward.currency)} ({planned.computation})"
        )
        step.entries.append((LedgerEntry.RECOMPUTED, amount - reward.amount, note))
        if _ask_again(reward, amount):
            step.status = RewardStatus.AWAITING_APPROVAL
            step.fields |= {
                "wait_reason": "the amount changed while an approver was to decide"
                if reward.status is RewardStatus.AWAITING_APPROVAL
                else "the amount rose after approval",
                "approved_at": None,
                "approved_by": None,
            }
            step.entries.append(
                (LedgerEntry.AWAITING_APPROVAL, amount, "the amount changed: asked again")
            )
    qualified = (
        deal.last_reached(reward.stage)
        if policy.restart_window_on_requalify
        else deal.first_reached(reward.stage)
    )
    has_value = amount > 0 or reward.reward_type == "recognition"
    if reward.status is RewardStatus.PENDING and deal.at_or_past(reward.stage) and has_value:
        # (a % reward of a deal with no amount yet waits pending until it has one)
        qualified = qualified or now
        release_after = qualified + timedelta(days=reward.delay_days)
        step.status = RewardStatus.HOLDING
        step.fields |= {"qualified_at": qualified, "release_after": release_after}
        note = (
            f"the deal reached {reward.stage} on {_when(qualified)}; held "
            f"{reward.delay_days} days, until {release_after.isoformat()}"
        )
        step.entries.append((LedgerEntry.HELD, amount, note))
    elif (
        reward.status is RewardStatus.HOLDING
        and qualified is not None
        and reward.qualified_at is not None
        and qualified > reward.qualified_at
        and deal.at_or_past(reward.stage)
    ):
        release_after = qualified + timedelta(days=reward.delay_days)
        step.fields |= {"qualified_at": qualified, "release_after": release_after}
        note = (
            f"the deal fell below {reward.stage} and reached it again on {_when(qualified)}:"
            f" the program restarts the window, now until {release_after.isoformat()}"
        )
        step.entries.append((LedgerEntry.WINDOW_RESTARTED, amount, note))
    return step


def _ask_again(reward: RewardNow, amount: Decimal) -> bool:
    """An approver decides on an amount: one approved for less, or one an approver is
    looking at now, goes back to them with the new amount."""
    if reward.status is RewardStatus.AWAITING_APPROVAL:
        return True
    return reward.approved and amount > reward.amount


def _recomputed(planned: PlannedPart) -> dict[str, Any]:
    return {
        "amount": planned.amount,
        "full_amount": planned.full_amount,
        "basis_amount": planned.basis_amount,
        "computation": planned.computation,
        "needs_approval": planned.needs_approval,
    }


def _after_payout(
    reward: RewardNow, deal: DealNow, planned: PlannedPart | None, now: datetime
) -> Step:
    """Inside the clawback window a reverted deal is never reversed silently: the amount to
    recover is a negative ledger row, netted from the recipient's next reward."""
    step = Step()
    until = reward.clawback_until
    if until is None or reward.amount <= 0:
        return step
    # A loss counts at the CRM's own time (as qualifying does): a late sync does not forgive
    # it. An amount change has no CRM time here, so it counts when it is seen.
    # Released but not yet in finance's hands (and nothing netted into it): the payout is
    # simply taken back or lowered; there is nothing to recover from the recipient.
    unpaid = not reward.with_finance and reward.net_amount == reward.amount
    if deal.stage is ProgramStage.CLOSED_LOST and (deal.lost_at() or now) <= until and unpaid:
        step.status = RewardStatus.VOIDED
        step.fields = {"voided_at": now, "void_reason": "deal_closed_lost_before_payment"}
        note = (
            f"the deal closed lost on {_when(deal.lost_at())}, after release but before "
            "finance took the payout: voided, nothing to recover"
        )
        step.entries.append((LedgerEntry.VOIDED, reward.amount, note))
    elif deal.stage is ProgramStage.CLOSED_LOST and (deal.lost_at() or now) <= until:
        step.status = RewardStatus.CLAWED_BACK
        step.fields = {"void_reason": "deal_closed_lost_after_release"}
        note = (
            f"the deal closed lost on {_when(deal.lost_at())}, inside the clawback window "
            f"(until {reward.clawback_until.date().isoformat()}): "
            f"{money(reward.amount, reward.currency)} to recover"
        )
        step.entries.append((LedgerEntry.CLAWED_BACK, -reward.amount, note))
    elif (
        deal.stage is not ProgramStage.CLOSED_LOST
        and now <= until
        and planned is not None
        and not reward.rule_changed  # an edited program never reaches back into paid money
        and planned.basis_amount != reward.basis_amount
        and Decimal(0) <= planned.amount < reward.amount
    ):
        back = reward.amount - planned.amount
        step.fields = {
            "amount": planned.amount,
            "computation": planned.computation,
            "basis_amount": planned.basis_amount,
        }
        if unpaid:
            step.fields["net_amount"] = planned.amount
            note = (
                f"the deal amount fell to "
                f"{money(planned.basis_amount or Decimal(0), reward.currency)} before finance "
                f"took the payout: lowered by {money(back, reward.currency)}"
            )
            step.entries.append((LedgerEntry.RECOMPUTED, -back, note))
            return step
        note = (
            f"the deal amount fell to {money(planned.basis_amount or Decimal(0), reward.currency)}"
            f" inside the clawback window: {money(back, reward.currency)} to recover"
        )
        step.entries.append((LedgerEntry.CLAWED_BACK, -back, note))
    return step


@dataclass
class Recipient:
    """One recipient's year so far, as the gates see it; updated as the run releases."""

    released_this_year: Decimal = Decimal(0)
    cash_like_this_year: Decimal = Decimal(0)
    tax_form_on_file: bool = False
    debts: list[tuple[int, Decimal]] = field(default_factory=list)  # (reward id, to recover)


@dataclass(frozen=True)
class Due:
    """A reward whose hold window is over (holding, approved, or waiting for a tax form)."""

    reward: RewardNow
    clawback_days: int
    deal_ready: bool  # the deal is still at or past the part's stage


def release_gates(
    due: Sequence[Due], who: Recipient, policy: RewardPolicy, now: datetime
) -> tuple[list[tuple[int, Step]], list[Recovery]]:
    """One recipient's due rewards, oldest first: approval, yearly cap, tax form, then
    release with netting. Later rewards see what earlier ones released in this run."""
    steps: list[tuple[int, Step]] = []
    recoveries: list[Recovery] = []
    for item in due:
        reward = item.reward
        if not item.deal_ready:
            continue  # below the part's stage again: wait, without flip-flopping the status
        step = _gate(reward, who, policy, now)
        if step is None:
            step = _release(reward, item.clawback_days, who, policy, now, recoveries)
        if step:
            steps.append((reward.id, step))
    return steps, recoveries


def _gate(reward: RewardNow, who: Recipient, policy: RewardPolicy, now: datetime) -> Step | None:
    """The step that keeps ``reward`` from release now, or None when it may go."""
    c = reward.currency
    if reward.needs_approval and not reward.approved:  # whatever it waited for before
        return _await_approval(reward, "the program's approval rule (amount or referrer type)")
    cap = policy.yearly_cap
    if cap is not None and who.released_this_year + reward.amount > cap.amount:
        left = max(cap.amount - who.released_this_year, Decimal(0))
        why = (
            f"yearly cap {money(cap.amount, c)}: {money(who.released_this_year, c)} "
            f"released this year, {money(reward.amount, c)} more goes over"
        )
        if cap.over == "approval" and not reward.approved:
            return _await_approval(reward, why)
        if cap.over == "cut" and left <= 0:
            return Step(
                RewardStatus.VOIDED,
                {"voided_at": now, "void_reason": "yearly_cap_reached"},
                [(LedgerEntry.VOIDED, reward.amount, why + ": nothing left this year")],
            )
        # Less left than the reward in cut mode: ``_release`` cuts it, once the tax form allows.
    if (
        policy.tax_form_threshold is not None
        and reward.reward_type in policy.cash_like_types
        and not who.tax_form_on_file
        and who.cash_like_this_year + _capped(reward, who, policy) > policy.tax_form_threshold
    ):
        if reward.status is RewardStatus.AWAITING_TAX_FORM:
            return Step()  # still no form: nothing changes, nothing is written
        why = (
            f"cash-like rewards this year would pass the tax-form threshold of "
            f"{money(policy.tax_form_threshold, c)}: waits for "
            "`referrals referrers tax-form EMAIL --on-file`"
        )
        return Step(
            RewardStatus.AWAITING_TAX_FORM,
            {"wait_reason": "tax_form"},
            [(LedgerEntry.AWAITING_TAX_FORM, reward.amount, why)],
        )
    return None


def _await_approval(reward: RewardNow, why: str) -> Step:
    if reward.status is RewardStatus.AWAITING_APPROVAL:
        return Step()
    return Step(
        RewardStatus.AWAITING_APPROVAL,
        {"wait_reason": why[:200]},
        [(LedgerEntry.AWAITING_APPROVAL, reward.amount, why)],
    )


def _capped(reward: RewardNow, who: Recipient, policy: RewardPolicy) -> Decimal:
    cap = policy.yearly_cap
    if cap is None or cap.over != "cut":
        return reward.amount
    return min(reward.amount, max(cap.amount - who.released_this_year, Decimal(0)))


def _release(
    reward: RewardNow,
    clawback_days: int,
    who: Recipient,
    policy: RewardPolicy,
    now: datetime,
    recoveries: list[Recovery],
) -> Step:
    """Release ``reward`` (cut to what the yearly cap leaves), netting what ``who`` owes.
    Ledger rows in the order things happen: the cut, the release, each debt netted."""
    c = reward.currency
    step = Step(RewardStatus.RELEASED)
    amount = _capped(reward, who, policy)
    if amount < reward.amount and policy.yearly_cap is not None:
        note = (
            f"cut to what the yearly cap of {money(policy.yearly_cap.amount, c)} leaves"
            f" this year: {money(reward.amount, c)} -> {money(amount, c)}"
        )
        step.entries.append((LedgerEntry.RECOMPUTED, amount - reward.amount, note))
        step.fields["amount"] = amount
    netted = _net(reward, amount, who, recoveries)
    net = amount - sum((-take for _, take, _ in netted), Decimal(0))
    step.fields |= {
        "released_at": now,
        "net_amount": net,
        "wait_reason": None,
        "clawback_until": now + timedelta(days=clawback_days) if clawback_days else None,
    }
    held = f"hold ended {reward.release_after.isoformat()}" if reward.release_after else ""
    approved = "; approved" if reward.approved else ""
    step.entries.append(
        (LedgerEntry.RELEASED, amount, f"{held}{approved}; finance pays {money(net, c)}")
    )
    step.entries.extend(netted)
    who.released_this_year += amount
    if reward.reward_type in policy.cash_like_types:
        who.cash_like_this_year += amount
    return step


def _net(
    reward: RewardNow, amount: Decimal, who: Recipient, recoveries: list[Recovery]
) -> list[tuple[LedgerEntry, Decimal, str]]:
    """Take what ``who`` owes, oldest debt first, out of ``amount``: a ``netted`` row here
    and a ``recovered`` one (in ``recoveries``) on the reward that was clawed back."""
    rows: list[tuple[LedgerEntry, Decimal, str]] = []
    left = amount
    for i, (debt_id, owed) in enumerate(who.debts):
        take = min(owed, left)
        if take <= 0:
            continue
        left -= take
        who.debts[i] = (debt_id, owed - take)
        note = f"recovered by netting from reward {reward.id}"
        recoveries.append(Recovery(debt_id, take, note, reward.id))
        owed_note = f"{money(take, reward.currency)} owed from reward {debt_id} netted"
        rows.append((LedgerEntry.NETTED, -take, owed_note))
    who.debts = [(d, owed) for d, owed in who.debts if owed > 0]
    return rows
