"""Reward rules: what a referrer earns, at which CRM milestone, after which hold window.

The seed's advice is that timing follows commercial confidence: a reward waits for a stage the
sales team trusts (``qualifying_stage``) plus a delay, can be paid in parts at several
milestones, needs approval above a threshold, and can be clawed back if the deal reverts.
Money is ``Decimal`` throughout; the program's ``currency`` applies.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from domain.program_base import Key, Problem, ProgramModel, raise_problems
from domain.stages import ProgramStage, rank

RewardType = Literal[
    "account_credit",
    "cash",
    "gift_card",
    "commission",
    "service_credit",
    "donation",
    "voucher",
    "recognition",
]

SHARE_TOLERANCE = Decimal("1e-9")
_CENT = Decimal("0.01")


class FixedValue(ProgramModel):
    """The same amount for every qualifying referral."""

    kind: Literal["fixed"]
    amount: Decimal = Field(gt=0, decimal_places=2)  # money: a sub-cent amount is a typo

    def amount_for(self, deal_amount: Decimal | None) -> Decimal:
        return self.amount


class PercentValue(ProgramModel):
    """A share of the deal amount, always capped so one large deal cannot surprise finance."""

    kind: Literal["percent"]
    percent: Decimal = Field(gt=0, le=100)
    cap: Decimal = Field(gt=0, decimal_places=2)

    def amount_for(self, deal_amount: Decimal | None) -> Decimal:
        """``percent`` of the deal, at most ``cap``; a deal without an amount earns nothing."""
        if deal_amount is None or deal_amount <= 0:
            return Decimal(0)
        raw = deal_amount * self.percent / 100
        return min(raw, self.cap).quantize(_CENT, rounding=ROUND_HALF_UP)


RewardValue = Annotated[FixedValue | PercentValue, Field(discriminator="kind")]


class RewardPart(ProgramModel):
    """One instalment of a staged reward: ``share`` of the value, paid at ``stage`` + delay."""

    stage: ProgramStage
    share: Decimal = Field(gt=0, le=1)
    delay_days: int = Field(0, ge=0)


class Approval(ProgramModel):
    """When a person must approve before release (amount threshold, or always for some types)."""

    above_amount: Decimal | None = Field(None, ge=0, decimal_places=2)
    referrer_types: tuple[str, ...] = ()

    def required_for(self, amount: Decimal, referrer_type: str) -> bool:
        """True when a reward for ``referrer_type`` waits for an approver.

        ``amount`` is the reward's full amount, not one part of a staged reward, so splitting
        a reward into parts cannot slip it under the threshold.
        """
        over = self.above_amount is not None and amount > self.above_amount
        return over or referrer_type in self.referrer_types


class Reward(ProgramModel):
    """A reward rule for one or more referrer types.

    Without ``parts`` the whole value is held ``delay_days`` after the deal reaches
    ``qualifying_stage``. With ``parts`` it is staged: each part releases its share at its own
    stage and delay, the first no earlier than ``qualifying_stage``.
    """

    key: Key
    referrer_types: tuple[str, ...] = Field(min_length=1)
    type: RewardType
    value: RewardValue | None = None
    qualifying_stage: ProgramStage
    delay_days: int = Field(0, ge=0)
    parts: tuple[RewardPart, ...] = ()
    approval: Approval = Approval()
    clawback_window_days: int = Field(0, ge=0)

    @property
    def staged(self) -> bool:
        return bool(self.parts)

    def schedule(self) -> tuple[RewardPart, ...]:
        """The release schedule; an unstaged reward is one part of share 1."""
        if self.parts:
            return self.parts
        return (
            RewardPart(stage=self.qualifying_stage, share=Decimal(1), delay_days=self.delay_days),
        )

    def amount_for(self, deal_amount: Decimal | None) -> Decimal:
        """The full reward amount for a deal (before splitting into parts); 0 for recognition."""
        return Decimal(0) if self.value is None else self.value.amount_for(deal_amount)

    @model_validator(mode="after")
    def _consistent(self) -> Reward:
        problems: list[Problem] = []
        if self.type == "recognition" and self.value is not None:
            problems.append(("value", "must be left out for a recognition reward"))
        elif self.type != "recognition" and self.value is None:
            problems.append(("value", "is required"))
        if self.qualifying_stage is ProgramStage.CLOSED_LOST:
            problems.append(("qualifying_stage", "cannot be closed_lost"))
        if self.parts:
            problems.extend(self._part_problems())
        raise_problems(problems)
        return self

    def _part_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        if self.delay_days:
            problems.append(("delay_days", "must be 0 for a staged reward (set each part's)"))
        total = sum((part.share for part in self.parts), Decimal(0))
        if abs(total - 1) > SHARE_TOLERANCE:
            problems.append(("parts", f"shares must sum to 1 (they sum to {total.normalize()})"))
        previous: RewardPart | None = None
        for i, part in enumerate(self.parts):
            if part.stage is ProgramStage.CLOSED_LOST:
                problems.append((f"parts[{i}].stage", "cannot be closed_lost"))
            elif rank(part.stage) < rank(self.qualifying_stage):
                problems.append(
                    (f"parts[{i}].stage", f"comes before qualifying_stage {self.qualifying_stage}")
                )
            if previous is not None and (rank(part.stage), part.delay_days) < (
                rank(previous.stage),
                previous.delay_days,
            ):
                problems.append(
                    (f"parts[{i}]", f"must come after parts[{i - 1}] (by stage, then delay_days)")
                )
            previous = part
        return problems


CASH_LIKE: tuple[RewardType, ...] = ("cash", "gift_card", "commission", "voucher")


class YearlyCap(ProgramModel):
    """At most ``amount`` released to one recipient per calendar year; what goes over it
    waits for an approver (``over: approval``) or is cut to what is left (``over: cut``)."""

    amount: Decimal = Field(gt=0, decimal_places=2)
    over: Literal["approval", "cut"] = "approval"


class RewardPolicy(ProgramModel):
    """Program-wide reward rules on top of each rule's own.

    ``tax_form_threshold``: cash-like rewards (``cash_like_types``) to one recipient above
    this total in a calendar year wait until a tax form is on file. ``four_eyes``: the
    approver may be neither the referring account's CSM nor the referrer.
    ``restart_window_on_requalify``: a deal that falls below a part's stage and reaches it
    again starts that part's hold window again (off: the first time counts).
    ``notify_approvers_by``: Slack DM and/or email to every approver."""

    yearly_cap: YearlyCap | None = None
    tax_form_threshold: Decimal | None = Field(None, gt=0, decimal_places=2)
    cash_like_types: tuple[RewardType, ...] = CASH_LIKE
    four_eyes: bool = True
    restart_window_on_requalify: bool = False
    notify_approvers_by: tuple[Literal["chat", "email"], ...] = ("chat", "email")
