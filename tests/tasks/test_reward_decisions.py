"""`decide_reward`: an approver approves or rejects a reward waiting for approval, with a ledger
row and an audit entry; four eyes keep the account's CSM and the referrer from deciding; a
refused decision changes nothing; the next release-rewards run releases what was approved."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from db.models import AuditEntry, OutboxMessage, Reward, RewardLedgerEntry
from domain.program_rewards import RewardPolicy
from domain.statuses import OutboxChannel, RewardStatus, TeamRole
from tasks.rewards.decide import DecisionError, decide_reward
from tests.tasks.reward_world import (
    DAY,
    DUE,
    NOW,
    PAID,
    RewardWorld,
    approving,
    awaiting_approval,
)

PROGRAM = approving()
DECIDED = DUE + DAY


@pytest.fixture
def rw(factory, tmp_path) -> RewardWorld:
    return RewardWorld(factory, tmp_path, PROGRAM)


def decide(rw: RewardWorld, reward_id: int, approve: bool, by: str, reason: str = "checked"):
    return decide_reward(rw.factory, rw.program, reward_id, approve, by, reason, DECIDED)


def audits(rw: RewardWorld, reward_id: int) -> list[AuditEntry]:
    with rw.factory() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity_type == "reward", AuditEntry.entity_id == str(reward_id)
                )
            )
        )


def snapshot(rw: RewardWorld, reward_id: int) -> tuple:
    with rw.factory() as session:
        reward = session.get(Reward, reward_id)
        columns = {c.key: getattr(reward, c.key) for c in Reward.__table__.columns}
        ledger = session.scalar(
            select(func.count()).where(RewardLedgerEntry.reward_id == reward_id)
        )
        audit = session.scalar(select(func.count()).select_from(AuditEntry))
    return columns, ledger, audit


def test_an_approval_is_recorded_and_the_next_run_releases_the_reward(rw):
    reward_id = awaiting_approval(rw)
    approver = rw.email_of(rw.approver)

    result = decide(rw, reward_id, True, approver.upper(), "deal checked with sales")

    assert (result.status, result.actor) == (RewardStatus.APPROVED, f"team_member:{rw.approver}")
    reward = rw.reward(reward_id)
    assert reward.status is RewardStatus.APPROVED
    assert (reward.approved_by, reward.approved_at, reward.wait_reason) == (approver, DECIDED, None)
    assert rw.ledger(reward_id)[-1] == (
        "approved",
        Decimal("500.00"),
        f"team_member:{rw.approver}",
        "deal checked with sales",
    )
    [audit] = audits(rw, reward_id)
    assert (audit.actor, audit.action) == (f"team_member:{rw.approver}", "reward_approved")
    assert audit.details["reason"] == "deal checked with sales"
    assert "@" not in str(audit.details)  # ids in the audit log, never emails

    counts = rw.release(DECIDED + DAY)
    assert counts["rewards released"] == 1
    reward = rw.reward(reward_id)
    assert (reward.status, reward.net_amount) == (RewardStatus.RELEASED, Decimal("500.00"))
    assert "approved" in rw.ledger(reward_id)[-1][3]
    with rw.factory() as session:
        payout = session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"payout:reward:{reward_id}")
        )
    assert payout.channel is OutboxChannel.FULFILMENT
    assert rw.release(DECIDED + 2 * DAY) == {}  # released once


def test_a_rejection_voids_the_reward_with_both_ledger_rows_and_it_is_never_released(rw):
    reward_id = awaiting_approval(rw)

    result = decide(rw, reward_id, False, rw.email_of(rw.approver), "self-dealing suspected")

    assert result.status is RewardStatus.VOIDED
    reward = rw.reward(reward_id)
    assert (reward.status, reward.void_reason, reward.voided_at) == (
        RewardStatus.VOIDED,
        "rejected_in_approval",
        DECIDED,
    )
    assert reward.approved_at is None
    assert [(entry, note) for entry, _, _, note in rw.ledger(reward_id)[-2:]] == [
        ("rejected", "self-dealing suspected"),
        ("voided", "rejected in approval: self-dealing suspected"),
    ]
    [audit] = audits(rw, reward_id)
    assert audit.action == "reward_rejected"
    assert rw.release(DECIDED + DAY) == {}
    assert rw.reward(reward_id).status is RewardStatus.VOIDED


@pytest.mark.parametrize(
    "who, expected",
    [
        ("account_csm", "four eyes: the CSM of the referring account cannot approve its reward"),
        ("referrer", "four eyes: the referrer cannot approve their own reward"),
        ("csm_role", "is not an approver (role csm)"),
        ("no_role", "is not an approver (role none)"),
        ("inactive", "only an active team member can decide"),
        ("stranger", "only an active team member can decide"),
    ],
)
def test_a_refused_decision_names_why_and_changes_nothing(rw, who, expected):
    # An approver who also owns the referring account.
    csm = rw.member("csm.approver@vendor.example", TeamRole.APPROVER)
    referrer = rw.referrer(csm=csm)
    reward_id = awaiting_approval(rw, referrer)
    by = {
        "account_csm": lambda: rw.email_of(csm),
        "referrer": lambda: rw.email_of(rw.member(referrer.email, TeamRole.APPROVER)),
        "csm_role": lambda: rw.email_of(rw.csm),
        "no_role": lambda: rw.email_of(rw.member("owner@vendor.example", None)),
        "inactive": lambda: rw.email_of(
            rw.member("gone@vendor.example", TeamRole.APPROVER, active=False)
        ),
        "stranger": lambda: "nobody@vendor.example",
    }[who]()
    before = snapshot(rw, reward_id)

    for approve in (True, False):
        with pytest.raises(DecisionError, match=re.escape(expected)):
            decide(rw, reward_id, approve, by)

    assert snapshot(rw, reward_id) == before
    assert rw.reward(reward_id).status is RewardStatus.AWAITING_APPROVAL
    # ... and an approver with nothing to do with the referral may decide it.
    assert decide(rw, reward_id, True, rw.email_of(rw.approver)).status is RewardStatus.APPROVED


def test_without_four_eyes_the_accounts_csm_may_approve(factory, tmp_path):
    program = PROGRAM.model_copy(update={"reward_policy": RewardPolicy(four_eyes=False)})
    rw = RewardWorld(factory, tmp_path, program)
    csm = rw.member("csm.approver@vendor.example", TeamRole.APPROVER)
    reward_id = awaiting_approval(rw, rw.referrer(csm=csm))
    assert decide(rw, reward_id, True, rw.email_of(csm)).status is RewardStatus.APPROVED


def test_a_reward_not_awaiting_approval_cannot_be_decided(rw):
    reward_id = awaiting_approval(rw)
    approver = rw.email_of(rw.approver)
    decide(rw, reward_id, True, approver)
    before = snapshot(rw, reward_id)

    with pytest.raises(DecisionError, match="the reward is approved, not awaiting approval"):
        decide(rw, reward_id, False, approver)
    with pytest.raises(DecisionError, match="reward 999999 does not exist"):
        decide(rw, 999999, True, approver)

    assert snapshot(rw, reward_id) == before
    held = rw.intro(rw.referrer())  # a reward still in its hold window
    rw.push()
    rw.win(held)
    rw.release(NOW + 12 * DAY)
    [holding] = rw.rewards_of(held)
    assert holding.status is RewardStatus.HOLDING
    with pytest.raises(DecisionError, match="the reward is holding, not awaiting approval"):
        decide(rw, holding.id, True, approver)


def test_an_amount_that_rises_after_approval_asks_the_approvers_again(rw):
    partner = rw.referrer(referrer_type="partner")
    referral = rw.intro(partner)
    rw.push()
    rw.win(referral, amount=Decimal("10000"))
    rw.release(PAID + DAY)
    rw.release(DUE)
    [reward] = rw.rewards_of(referral)
    assert reward.status is RewardStatus.AWAITING_APPROVAL and reward.amount == Decimal("1000.00")
    decide(rw, reward.id, True, rw.email_of(rw.approver))

    rw.deal_moves(referral, "closedwon", DUE + DAY, amount=Decimal("20000"))
    rw.sync()
    rw.release(DECIDED + DAY)
    again = rw.reward(reward.id)
    assert again.status is RewardStatus.AWAITING_APPROVAL and again.amount == Decimal("2000.00")
    with rw.factory() as session:
        keys = sorted(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.template == "reward_approval",
                    OutboxMessage.subject_id == reward.id,
                )
            )
        )
    rounds = {key.split(":")[3] for key in keys}
    assert rounds == {"1", "2"}, keys
    # A rerun asks nobody a third time.
    rw.release(DECIDED + 2 * DAY)
    with rw.factory() as session:
        count = session.scalar(
            select(func.count()).where(OutboxMessage.template == "reward_approval")
        )
    assert count == len(keys)
