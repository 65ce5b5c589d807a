"""Finance's side of rewards: numbered exports of what the finance queue holds (never twice
unless asked), ``to_recover`` rows until netting settles a clawback, rewards marked paid by id
or from a file, and tax forms on file."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEntry, RewardExport, TaxForm
from domain.statuses import RewardStatus, TeamRole
from tasks.rewards.finance import (
    COLUMNS,
    FinanceError,
    export_released,
    mark_paid,
    mark_paid_from_csv,
    record_tax_form,
)
from tests.tasks.reward_world import DAY, DUE, PAID, SAAS, RewardWorld

LATER = DUE + 2 * DAY


@pytest.fixture
def rw(factory, tmp_path) -> RewardWorld:
    return RewardWorld(factory, tmp_path, SAAS)


def released(rw: RewardWorld, *referrers) -> list[int]:
    """One intro per referrer given, won and paid, held, released, queued at finance."""
    referrals = [rw.intro(r) for r in referrers]
    rw.push()
    rw.win(*referrals)
    rw.release(PAID + DAY)
    rw.release(DUE)
    rw.dispatch(DUE)
    ids = [reward.id for referral in referrals for reward in rw.rewards_of(referral)]
    assert {rw.reward(i).status for i in ids} == {RewardStatus.RELEASED}
    return ids


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_exports_are_numbered_and_list_a_reward_once_unless_asked_again(rw, tmp_path):
    a, b = rw.referrer(), rw.referrer()
    first, second = released(rw, a, b)
    finance = rw.member("finance@vendor.example", TeamRole.ADMIN)

    one = export_released(rw.factory, tmp_path / "one.csv", "finance@vendor.example", LATER)

    assert (one.new, one.total, one.to_recover) == (2, Decimal("1000.00"), 0)
    rows = read(tmp_path / "one.csv")
    assert [r["reward_id"] for r in rows] == [str(first), str(second)]
    assert rows[0] | {"released_at": "-"} == {
        **dict.fromkeys(COLUMNS, ""),
        "batch": str(one.batch),
        "kind": "payout",
        "reward_id": str(first),
        "recipient_email": a.email,
        "reward_type": "account_credit",
        "gross_amount": "500.00",
        "net_amount": "500.00",
        "currency": "USD",
        "released_at": "-",
        "referral_id": str(rw.reward(first).referral_id),
        "rule_key": "client_account_credit",
        "part": "1/1",
    }
    assert rows[0]["released_at"].startswith(DUE.date().isoformat())
    assert rw.reward(first).export_batch == one.batch
    assert rw.ledger(first)[-1] == (
        "exported",
        Decimal("500.00"),
        f"team_member:{finance}",
        f"export batch {one.batch}",
    )

    nothing = export_released(rw.factory, tmp_path / "two.csv", None, LATER + DAY)
    assert (nothing.batch, nothing.new) == (None, 0)
    assert read(tmp_path / "two.csv") == []
    assert [e for e, *_ in rw.ledger(first)].count("exported") == 1

    again = export_released(rw.factory, tmp_path / "three.csv", None, LATER + DAY, again=True)
    assert (again.new, again.batch) == (2, one.batch + 1)
    assert {r["note"] for r in read(tmp_path / "three.csv")} == {f"again: was in batch {one.batch}"}
    assert rw.reward(first).export_batch == again.batch
    with rw.factory() as session:
        batches = session.scalars(select(RewardExport).order_by(RewardExport.id)).all()
    assert [(b.id, b.rows, b.total, b.file_name) for b in batches] == [
        (one.batch, 2, Decimal("1000.00"), "one.csv"),
        (again.batch, 2, Decimal("1000.00"), "three.csv"),
    ]
    assert batches[1].created_by == "cli:rewards-export"

    mark_paid(rw.factory, [first], "RUN-7", None, LATER + 2 * DAY)
    last = export_released(rw.factory, tmp_path / "four.csv", None, LATER + 3 * DAY, again=True)
    assert last.new == 1
    assert [r["reward_id"] for r in read(tmp_path / "four.csv")] == [str(second)]


def test_only_payouts_finance_has_queued_are_exported_and_by_must_be_a_member(rw, tmp_path):
    referral = rw.intro(rw.referrer())
    rw.push()
    rw.win(referral)
    rw.release(PAID + DAY)
    rw.release(DUE)  # released; its payout is still in the outbox
    assert export_released(rw.factory, tmp_path / "x.csv", None, DUE).new == 0
    with pytest.raises(FinanceError, match="--by must be an active team member"):
        export_released(rw.factory, tmp_path / "x.csv", "who@else.example", DUE)
    rw.dispatch(DUE)
    assert export_released(rw.factory, tmp_path / "y.csv", None, DUE).new == 1


def test_a_debt_is_listed_to_recover_in_every_export_until_it_is_netted(rw, tmp_path):
    ana = rw.referrer()
    lost, later = rw.intro(ana), rw.intro(ana)
    rw.push()
    rw.win(lost)
    rw.release(PAID + DAY)
    rw.release(DUE)
    rw.dispatch(DUE)
    [clawed] = rw.rewards_of(lost)
    export_released(rw.factory, tmp_path / "one.csv", None, DUE)
    rw.deal_moves(lost, "closedlost", DUE + 5 * DAY)
    rw.sync()
    rw.release(DUE + 6 * DAY)
    assert rw.reward(clawed.id).status is RewardStatus.CLAWED_BACK

    for name in ("two.csv", "three.csv"):
        result = export_released(rw.factory, tmp_path / name, None, DUE + 7 * DAY)
        assert (result.new, result.to_recover) == (0, 1)
        [row] = read(tmp_path / name)
        assert (row["kind"], row["reward_id"], row["recipient_email"], row["to_recover"]) == (
            "to_recover",
            str(clawed.id),
            ana.email,
            "500.00",
        )
        assert (row["gross_amount"], row["net_amount"]) == ("", "")

    # Ana's next reward is released with the debt netted: finance pays nothing for it, and
    # nothing is left to recover.
    rw.deal_moves(later, "closedwon", DUE + 10 * DAY, first_payment=DUE + 10 * DAY)
    rw.sync()
    rw.release(DUE + 11 * DAY)
    rw.release(DUE + 40 * DAY)
    rw.dispatch(DUE + 40 * DAY)
    result = export_released(rw.factory, tmp_path / "four.csv", None, DUE + 41 * DAY)
    assert (result.new, result.to_recover) == (1, 0)
    [row] = read(tmp_path / "four.csv")
    assert (row["kind"], row["gross_amount"], row["net_amount"]) == ("payout", "500.00", "0.00")

    # Finance returns an export with its reference column filled in: to_recover rows are
    # skipped, payouts are marked paid.
    returned = tmp_path / "returned.csv"
    with returned.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(r | {"reference": "RUN-9"} for r in [*read(tmp_path / "two.csv"), row])
    report = mark_paid_from_csv(rw.factory, returned, None, DUE + 42 * DAY)
    paid = [int(row["reward_id"])]
    assert (report.read, report.skipped, report.paid, report.rejected) == (1, 1, paid, 0)


def test_mark_paid_by_ids_pays_released_rewards_once_and_refuses_others(rw):
    first, second = released(rw, rw.referrer(), rw.referrer())
    held = rw.intro(rw.referrer())
    rw.push()
    rw.deal_moves(held, "closedwon", DUE, first_payment=DUE)
    rw.sync()
    rw.release(DUE + DAY)  # in its hold window until DUE + 30 days
    [holding] = rw.rewards_of(held)

    report = mark_paid(rw.factory, [first, holding.id, 424242], "RUN-1", None, LATER)

    assert (report.paid, report.unchanged, report.rejected) == ([first], [], 2)
    assert report.errors == [
        f"reward {holding.id} is holding, not released",
        "reward 424242 does not exist, not released",
    ]
    reward = rw.reward(first)
    assert (reward.status, reward.paid_at, reward.payment_reference) == (
        RewardStatus.PAID,
        LATER,
        "RUN-1",
    )
    assert rw.ledger(first)[-1] == (
        "paid",
        Decimal("500.00"),
        "cli:rewards-mark-paid",
        "payment reference RUN-1",
    )
    assert rw.reward(holding.id).status is RewardStatus.HOLDING

    again = mark_paid(rw.factory, [first, second], "RUN-2", None, LATER + DAY)
    assert (again.paid, again.unchanged, again.rejected) == ([second], [first], 0)
    assert rw.reward(first).payment_reference == "RUN-1"
    assert [e for e, *_ in rw.ledger(first)].count("paid") == 1


def test_mark_paid_from_a_file_keeps_good_rows_and_names_bad_ones_by_line_and_field(rw, tmp_path):
    first, second, third = released(rw, rw.referrer(), rw.referrer(), rw.referrer())
    mark_paid(rw.factory, [third], "RUN-0", None, LATER)
    path = tmp_path / "paid.csv"
    path.write_text(
        "reward_id,reference,amount\n"
        f"{first},RUN-1,500.00\n"
        "abc,RUN-1,\n"
        f"{second},,\n"
        f"{third},RUN-1,\n"
        "999999,RUN-1,\n",
        encoding="utf-8",
    )

    report = mark_paid_from_csv(rw.factory, path, None, LATER + DAY)

    assert (report.read, report.paid, report.unchanged, report.rejected) == (5, [first], [third], 3)
    assert report.errors == [
        "line 3, field 'reward_id': is not a reward id",
        "line 4, field 'reference': is required",
        "line 6, field 'reward_id': reward 999999 does not exist, not released",
    ]
    assert rw.reward(first).status is RewardStatus.PAID
    assert rw.reward(second).status is RewardStatus.RELEASED
    assert rw.reward(third).payment_reference == "RUN-0"


def test_a_tax_form_on_file_lets_the_next_run_release_a_commission_over_the_threshold(rw, tmp_path):
    partner = rw.referrer(referrer_type="partner")
    referral = rw.intro(partner)
    rw.push()
    rw.win(referral, amount=Decimal(10000))  # 10% commission: 1,000 > the 600 threshold
    rw.release(PAID + DAY)
    rw.release(DUE)
    [reward] = rw.rewards_of(referral)
    assert (reward.status, reward.amount) == (RewardStatus.AWAITING_TAX_FORM, Decimal("1000.00"))
    finance = rw.member("finance@vendor.example", TeamRole.ADMIN)

    change = record_tax_form(rw.factory, partner.email.upper(), "finance@vendor.example", DUE, True)

    assert (change.changed, change.on_file, change.waiting) == (True, True, 1)
    with rw.factory() as session:
        form = session.get(TaxForm, partner.email)
        [audit] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "tax_form_on_file")
        ).all()
    assert (form.recorded_by, form.recorded_at) == (f"team_member:{finance}", DUE)
    assert audit.entity_id == f"person:{partner.person_id}"
    assert record_tax_form(rw.factory, partner.email, None, DUE, True).changed is False
    assert rw.release(DUE + DAY)["rewards released"] == 1
    assert rw.reward(reward.id).status is RewardStatus.RELEASED

    gone = record_tax_form(rw.factory, partner.email, None, DUE + DAY, False)
    assert (gone.changed, gone.waiting) == (True, 0)
    with rw.factory() as session:
        assert session.get(TaxForm, partner.email) is None
    with pytest.raises(FinanceError, match="not an email address"):
        record_tax_form(rw.factory, "nobody", None, DUE, True)


def test_finance_can_record_paying_an_exported_reward_that_was_clawed_back(rw, tmp_path):
    ana = rw.referrer()
    lost = rw.intro(ana)
    rw.push()
    rw.win(lost)
    rw.release(PAID + DAY)
    rw.release(DUE)
    rw.dispatch(DUE)
    [reward] = rw.rewards_of(lost)
    export_released(rw.factory, tmp_path / "one.csv", None, DUE)
    rw.deal_moves(lost, "closedlost", DUE + 2 * DAY)
    rw.sync()
    rw.release(DUE + 3 * DAY)
    assert rw.reward(reward.id).status is RewardStatus.CLAWED_BACK

    # Finance had paid the batch already: the payment is recorded, the debt stays to recover.
    paid = mark_paid(rw.factory, [reward.id], "BANK-7", None, DUE + 4 * DAY)
    assert paid.paid == [reward.id] and paid.rejected == 0
    after = rw.reward(reward.id)
    assert after.status is RewardStatus.CLAWED_BACK and after.payment_reference == "BANK-7"
    assert [row[0] for row in rw.ledger(reward.id)][-2:] == ["clawed_back", "paid"]
    again = mark_paid(rw.factory, [reward.id], "BANK-7", None, DUE + 5 * DAY)
    assert again.unchanged == [reward.id]
    assert export_released(rw.factory, tmp_path / "two.csv", None, DUE + 5 * DAY).to_recover == 1


def test_a_reward_id_that_is_not_a_plain_number_is_named_by_line(rw, tmp_path):
    path = tmp_path / "paid.csv"
    path.write_text("reward_id,reference\n²,BANK-1\n99999999999999999999,BANK-2\n", "utf-8")
    report = mark_paid_from_csv(rw.factory, path, None, DUE)
    assert report.rejected == 2 and report.errors == [
        "line 2, field 'reward_id': is not a reward id",
        "line 3, field 'reward_id': is not a reward id",
    ], report.errors
