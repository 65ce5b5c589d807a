"""What a referral earns: one case per way a rule computes its amount, its parts and whether
a person must approve it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from domain.program_rewards import Reward
from domain.rewards.accrual import describe, plan_rewards, split
from domain.stages import ProgramStage

D = Decimal


def rule(**kw: Any) -> Reward:
    base: dict[str, Any] = {
        "key": "r",
        "referrer_types": ["client"],
        "type": "cash",
        "value": {"kind": "fixed", "amount": "500"},
        "qualifying_stage": "closed_won",
        "delay_days": 30,
    }
    return Reward.model_validate(base | kw)


THIRDS = [
    {"stage": "closed_won", "share": "0.3333333333", "delay_days": 0},
    {"stage": "closed_won", "share": "0.3333333333", "delay_days": 30},
    {"stage": "first_payment", "share": "0.3333333334", "delay_days": 60},
]


@dataclass(frozen=True)
class Case:
    id: str
    rule: Reward
    deal_amount: Decimal | None
    amounts: tuple[Decimal, ...]
    needs_approval: tuple[bool, ...]
    computation: str
    referrer_type: str = "client"


CASES = [
    Case("fixed", rule(), D("90000"), (D("500.00"),), (False,), "fixed USD 500.00"),
    Case(
        "percent_under_cap",
        rule(value={"kind": "percent", "percent": "10", "cap": "5000"}),
        D("12000"),
        (D("1200.00"),),
        (False,),
        "10% of the deal's USD 12,000.00 = USD 1,200.00",
    ),
    Case(
        "percent_capped",
        rule(value={"kind": "percent", "percent": "10", "cap": "5000"}),
        D("80000"),
        (D("5000.00"),),
        (False,),
        "10% of the deal's USD 80,000.00 = USD 8,000.00, capped at USD 5,000.00",
    ),
    Case(
        "percent_rounds_half_up_and_says_so",
        rule(value={"kind": "percent", "percent": "10", "cap": "5000"}),
        D("12345.25"),
        (D("1234.53"),),
        (False,),
        "10% of the deal's USD 12,345.25 = USD 1,234.53",
    ),
    Case(
        "percent_of_a_deal_without_amount",
        rule(value={"kind": "percent", "percent": "10", "cap": "5000"}),
        None,
        (D("0"),),
        (False,),
        "10% of a deal without an amount = nothing",
    ),
    Case(
        "staged_thirds_add_up_to_the_cent",
        rule(value={"kind": "fixed", "amount": "100"}, delay_days=0, parts=THIRDS),
        None,
        (D("33.33"), D("33.33"), D("33.34")),
        (False, False, False),
        "fixed USD 100.00",
    ),
    Case(
        "approval_by_the_full_amount_not_the_part",
        rule(
            value={"kind": "fixed", "amount": "3000"},
            delay_days=0,
            parts=[
                {"stage": "closed_won", "share": "0.5"},
                {"stage": "first_payment", "share": "0.5", "delay_days": 90},
            ],
            approval={"above_amount": "2500"},
        ),
        None,
        (D("1500.00"), D("1500.00")),
        (True, True),
        "fixed USD 3,000.00",
    ),
    Case(
        "under_the_approval_amount",
        rule(approval={"above_amount": "2500"}),
        None,
        (D("500.00"),),
        (False,),
        "fixed USD 500.00",
    ),
    Case(
        "approval_by_referrer_type",
        rule(
            referrer_types=["client", "employee"],
            approval={"referrer_types": ["employee"]},
        ),
        None,
        (D("500.00"),),
        (True,),
        "fixed USD 500.00",
        referrer_type="employee",
    ),
    Case(
        "recognition",
        rule(type="recognition", value=None),
        D("1000"),
        (D("0"),),
        (False,),
        "recognition: no amount",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan(case: Case) -> None:
    parts = plan_rewards((case.rule,), case.referrer_type, case.deal_amount, "USD")

    assert tuple(p.amount for p in parts) == case.amounts
    assert sum((p.amount for p in parts), D(0)) == parts[0].full_amount
    assert tuple(p.needs_approval for p in parts) == case.needs_approval
    assert [p.part_index for p in parts] == list(range(len(parts)))
    assert all(p.parts == len(parts) and p.basis_amount == case.deal_amount for p in parts)
    assert parts[0].computation.startswith(case.computation), parts[0].computation
    assert describe(case.rule, case.deal_amount, "USD") == case.computation


def test_staged_parts_keep_their_own_stage_and_delay_and_say_which_part() -> None:
    parts = plan_rewards((rule(delay_days=0, parts=THIRDS),), "client", None, "USD")

    assert [(p.stage, p.delay_days) for p in parts] == [
        (ProgramStage.CLOSED_WON, 0),
        (ProgramStage.CLOSED_WON, 30),
        (ProgramStage.FIRST_PAYMENT, 60),
    ]
    assert parts[2].computation.endswith("part 3 of 3: 33.33333334%")


def test_a_referrer_type_without_a_rule_earns_nothing() -> None:
    assert plan_rewards((rule(),), "partner", D("1000"), "USD") == []


def test_several_rules_each_earn_their_own_rows() -> None:
    second = rule(key="bonus", type="gift_card", value={"kind": "fixed", "amount": "50"})
    parts = plan_rewards((rule(), second), "client", None, "USD")
    assert [(p.rule_key, p.amount) for p in parts] == [("r", D("500.00")), ("bonus", D("50.00"))]


@pytest.mark.parametrize(
    ("full", "shares"),
    [
        (D("100"), (D("0.3333333333"), D("0.3333333333"), D("0.3333333334"))),
        (D("0.01"), (D("0.5"), D("0.5"))),
        (D("2000"), (D("0.5"), D("0.5"))),
        (D("999.99"), (D("0.1"), D("0.2"), D("0.3"), D("0.4"))),
    ],
)
def test_split_adds_up_to_the_cent(full: Decimal, shares: tuple[Decimal, ...]) -> None:
    amounts = split(full, shares)
    assert sum(amounts, D(0)) == full.quantize(D("0.01"))
    assert all(a == a.quantize(D("0.01")) and a >= 0 for a in amounts)


def test_money_in_the_program_is_to_the_cent():
    import pydantic

    from domain.program_rewards import FixedValue, PercentValue

    with pytest.raises(pydantic.ValidationError, match="2 decimal places"):
        FixedValue(kind="fixed", amount=Decimal("100.005"))
    with pytest.raises(pydantic.ValidationError, match="2 decimal places"):
        PercentValue(kind="percent", percent=Decimal("12.5"), cap=Decimal("0.001"))
    assert FixedValue(kind="fixed", amount=Decimal("100.50")).amount == Decimal("100.50")
