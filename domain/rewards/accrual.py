"""What a referral earns: one planned row per rule and part, with how it was computed.

Parts split the full amount to the cent and the last part takes the remainder, so the parts
always add up to the amount the rule promises.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from domain.program_rewards import PercentValue, Reward
from domain.stages import ProgramStage

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class PlannedPart:
    rule_key: str
    part_index: int
    parts: int
    reward_type: str
    stage: ProgramStage
    delay_days: int
    amount: Decimal
    full_amount: Decimal
    basis_amount: Decimal | None
    computation: str
    needs_approval: bool


def money(amount: Decimal, currency: str) -> str:
    """``amount`` to the cent, rounded as ``PercentValue.amount_for`` rounds, so the words
    finance reads show the amount the reward actually has."""
    return f"{currency} {amount.quantize(_CENT, rounding=ROUND_HALF_UP):,}"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def split(full: Decimal, shares: tuple[Decimal, ...]) -> list[Decimal]:
    """``full`` in parts by ``shares`` (summing to 1), each to the cent; the last takes what
    rounding left over."""
    amounts = [(full * share).quantize(_CENT, rounding=ROUND_DOWN) for share in shares[:-1]]
    return [*amounts, full.quantize(_CENT) - sum(amounts, Decimal(0))]


def describe(rule: Reward, deal_amount: Decimal | None, currency: str) -> str:
    """How the full amount comes about, in words finance can check."""
    if rule.value is None:
        return "recognition: no amount"
    full = rule.amount_for(deal_amount)
    if not isinstance(rule.value, PercentValue):
        return f"fixed {money(full, currency)}"
    if deal_amount is None or deal_amount <= 0:
        return f"{_number(rule.value.percent)}% of a deal without an amount = nothing"
    raw = deal_amount * rule.value.percent / 100
    capped = f", capped at {money(rule.value.cap, currency)}" if raw > rule.value.cap else ""
    return (
        f"{_number(rule.value.percent)}% of the deal's {money(deal_amount, currency)}"
        f" = {money(raw, currency)}{capped}"
    )


def plan_rewards(
    rules: tuple[Reward, ...], referrer_type: str, deal_amount: Decimal | None, currency: str
) -> list[PlannedPart]:
    """Every part ``referrer_type`` earns under ``rules`` for a deal of ``deal_amount``."""
    planned = []
    for rule in rules:
        if referrer_type not in rule.referrer_types:
            continue
        schedule = rule.schedule()
        full = rule.amount_for(deal_amount)
        amounts = split(full, tuple(part.share for part in schedule))
        how = describe(rule, deal_amount, currency)
        for index, (part, amount) in enumerate(zip(schedule, amounts, strict=True)):
            share = "" if len(schedule) == 1 else f"; part {index + 1} of {len(schedule)}: "
            share += f"{_number(part.share * 100)}%" if share else ""
            planned.append(
                PlannedPart(
                    rule_key=rule.key,
                    part_index=index,
                    parts=len(schedule),
                    reward_type=rule.type,
                    stage=part.stage,
                    delay_days=part.delay_days,
                    amount=amount,
                    full_amount=full,
                    basis_amount=deal_amount,
                    computation=how + share,
                    needs_approval=rule.approval.required_for(full, referrer_type),
                )
            )
    return planned
