"""Edge cases of release-rewards on the database: a recipient with no email, a debt settled
to the cent on SQLite (whose sums are floats), and a program edited after payout."""

from __future__ import annotations

import csv
from decimal import Decimal

from sqlalchemy import select, update

from db.models import OutboxMessage, Reward, RewardLedgerEntry
from db.repositories import rewards as repo
from domain.statuses import LedgerEntry, OutboxStatus, RewardStatus
from tasks.rewards.finance import export_released
from tests.tasks.reward_world import DAY, DUE, PAID, SAAS, RewardWorld


def test_reward_without_recipient_email_is_never_released(factory, tmp_path):
    rw = RewardWorld(factory, tmp_path, SAAS)
    referral = rw.intro(rw.referrer())
    rw.push()
    rw.win(referral)
    rw.release(PAID + DAY)
    [reward] = rw.rewards_of(referral)
    assert reward.status is RewardStatus.HOLDING
    with factory.begin() as session:  # a referrer the CRM knows without an address
        session.execute(update(Reward).values(recipient_email=None))
    for at in (DUE, DUE + DAY):
        rw.release(at)
    reward = rw.reward(reward.id)
    # The reward releases; its thank-you is kept, held, and nothing goes to finance's queue.
    assert reward.status is RewardStatus.RELEASED
    with factory() as session:
        rows = session.execute(
            select(OutboxMessage.template, OutboxMessage.status).where(
                OutboxMessage.subject_type == "reward", OutboxMessage.subject_id == reward.id
            )
        ).all()
    assert rows == [("reward_released", OutboxStatus.SUPPRESSED)]


def test_settled_debt_keeps_showing_to_recover_on_sqlite(factory, tmp_path):
    rw = RewardWorld(factory, tmp_path, SAAS)
    referral = rw.intro(rw.referrer())
    rw.push()
    rw.win(referral)
    rw.release(DUE)
    [reward] = rw.rewards_of(referral)
    with factory.begin() as session:
        for entry, amount in (
            (LedgerEntry.CLAWED_BACK, Decimal("-300.30")),
            (LedgerEntry.RECOVERED, Decimal("100.10")),
            (LedgerEntry.RECOVERED, Decimal("200.20")),
        ):
            session.add(
                RewardLedgerEntry(
                    reward_id=reward.id,
                    entry=entry,
                    amount=amount,
                    currency="USD",
                    occurred_at=DUE,
                    actor="t",
                    note="t",
                )
            )
    with factory() as session:
        owed = repo.debts(session, [reward.recipient_email])
    out = export_released(factory, tmp_path / "x.csv", None, DUE + 2 * DAY)
    rows = list(csv.DictReader((tmp_path / "x.csv").open()))
    assert owed == {}, "a fully recovered debt is still a debt"
    assert out.to_recover == 0 and all(row["kind"] != "to_recover" for row in rows)


def test_program_edit_claws_back_paid_rewards(factory, tmp_path):
    from domain.program_rewards import FixedValue
    from tasks.rewards.finance import mark_paid

    rw = RewardWorld(factory, tmp_path, SAAS)
    referral = rw.intro(rw.referrer())
    rw.push()
    rw.win(referral)
    rw.release(DUE)
    [reward] = rw.rewards_of(referral)
    assert reward.status is RewardStatus.RELEASED and reward.amount == Decimal("500.00")
    assert mark_paid(factory, [reward.id], "BANK-1", None, DUE + DAY).paid == [reward.id]
    # Marketing lowers the client credit for *new* referrals; this deal did not change.
    rules = tuple(
        r.model_copy(update={"value": FixedValue(kind="fixed", amount=Decimal(250))})
        if r.key == "client_account_credit"
        else r
        for r in SAAS.rewards
    )
    rw.program = SAAS.model_copy(update={"rewards": rules})
    rw.release(DUE + 2 * DAY)
    after = rw.reward(reward.id)
    assert after.amount == Decimal("500.00"), "a program edit clawed back a paid reward"
    assert [row[0] for row in rw.ledger(reward.id)][-1] == "paid"
