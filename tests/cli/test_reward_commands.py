"""`referrals rewards list/show/approve/reject/export/mark-paid` and `referrals referrers
tax-form` as a person uses them: JSON for machines, one problem line and a non-zero exit for
what cannot be done."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest

from cli.main import app
from domain.statuses import RewardStatus, TeamRole
from tests.tasks.reward_world import DAY, DUE, PAID, RewardWorld, approving

LATER = DUE + 31 * DAY  # the second reward's hold is over
AT = (LATER + DAY).isoformat()


@pytest.fixture
def rewards(committed_factory, cli_env):
    """One reward released and queued at finance, one waiting for approval (of another
    referrer, at an account whose CSM is an approver too)."""
    rw = RewardWorld(committed_factory, cli_env / "world", approving(above=500))
    released = rw.intro(rw.referrer())
    rw.push()
    rw.win(released)
    rw.release(PAID + DAY)
    rw.release(DUE)
    rw.dispatch(DUE)
    rw.program = approving(above=0)  # a stricter program for the next intro
    lead = rw.member("lead@vendor.example", TeamRole.APPROVER)
    big = rw.referrer(csm=lead)
    waiting = rw.intro(big)
    rw.push(DUE)
    rw.deal_moves(waiting, "closedwon", DUE, first_payment=DUE)
    rw.sync()
    rw.release(DUE + DAY)
    rw.release(LATER)
    [one], [two] = rw.rewards_of(released), rw.rewards_of(waiting)
    assert one.status is RewardStatus.RELEASED, one.status
    assert two.status is RewardStatus.AWAITING_APPROVAL, two.status
    return SimpleNamespace(rw=rw, released=one.id, waiting=two.id, email=big.email, lead=lead)


def test_list_and_show(runner, rewards):
    released, waiting, email = rewards.released, rewards.waiting, rewards.email

    listed = json.loads(runner.invoke(app, ["rewards", "list", "--json"]).output)
    assert [(r["id"], r["status"]) for r in listed] == [
        (released, "released"),
        (waiting, "awaiting_approval"),
    ]
    assert set(listed[0]) == {
        "id",
        "referral",
        "recipient",
        "type",
        "amount",
        "net",
        "currency",
        "status",
        "qualified_at",
        "release_after",
        "released_at",
        "wait_reason",
    }
    assert listed[0]["net"] == "500.00" and listed[1]["net"] is None
    only = runner.invoke(app, ["rewards", "list", "--status", "awaiting_approval", "--json"])
    assert [r["id"] for r in json.loads(only.output)] == [waiting]
    theirs = runner.invoke(app, ["rewards", "list", "--referrer", email.upper(), "--json"])
    assert [r["id"] for r in json.loads(theirs.output)] == [waiting]
    table = runner.invoke(app, ["rewards", "list"])
    assert table.exit_code == 0 and "awaiting_approval" in table.output

    shown = json.loads(runner.invoke(app, ["rewards", "show", str(released), "--json"]).output)
    assert [e["entry"] for e in shown["ledger"]] == ["accrued", "held", "released"]
    assert {e["actor"] for e in shown["ledger"]} == {"flow:release-rewards"}
    assert shown["rule"] == "client_account_credit" and shown["part"] == "1 of 1"
    text = runner.invoke(app, ["rewards", "show", str(released)]).output
    assert "ledger" in text and "released 500.00 USD by flow:release-rewards" in text

    missing = runner.invoke(app, ["rewards", "show", "999"])
    assert (missing.exit_code, missing.output) == (1, "problem: reward 999 does not exist\n")


def test_approve_and_reject_say_why_not_in_one_line(runner, rewards):
    rw, waiting = rewards.rw, rewards.waiting
    approver = rw.email_of(rw.approver)
    csm = rw.email_of(rewards.lead)

    empty = runner.invoke(
        app, ["rewards", "approve", str(waiting), "--by", approver, "--reason", " "]
    )
    assert empty.exit_code == 2 and "--reason must say why" in empty.output
    refused = runner.invoke(
        app, ["rewards", "approve", str(waiting), "--by", csm, "--reason", "fine"]
    )
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        f"problem: reward {waiting}: four eyes: the CSM of the referring account cannot "
        "approve its reward"
    ]
    assert "Traceback" not in refused.output

    approved = runner.invoke(
        app,
        ["rewards", "approve", str(waiting), "--by", approver, "--reason", "ok", "--at", AT],
    )
    assert approved.exit_code == 0, approved.output
    assert approved.output == (
        f"reward {waiting}: approved; the next release-rewards run releases it\n"
    )
    twice = runner.invoke(
        app, ["rewards", "reject", str(waiting), "--by", approver, "--reason", "no"]
    )
    assert twice.exit_code == 1
    assert twice.output == (
        f"problem: reward {waiting}: the reward is approved, not awaiting approval\n"
    )
    shown = json.loads(runner.invoke(app, ["rewards", "show", str(waiting), "--json"]).output)
    assert shown["ledger"][-1]["entry"] == "approved"
    assert shown["ledger"][-1]["actor"] == f"team_member:{rw.approver}"
    assert shown["ledger"][-1]["note"] == "ok"

    rw.release(LATER + 2 * DAY)
    assert rw.reward(waiting).status is RewardStatus.RELEASED


def test_reject_voids(runner, rewards):
    rw, waiting = rewards.rw, rewards.waiting
    approver = rw.email_of(rw.approver)
    result = runner.invoke(
        app, ["rewards", "reject", str(waiting), "--by", approver, "--reason", "duplicate deal"]
    )
    assert result.output == f"reward {waiting}: voided\n"
    assert rw.reward(waiting).void_reason == "rejected_in_approval"


def test_export_mark_paid_and_from_csv(runner, rewards, cli_env):
    rw, released = rewards.rw, rewards.released
    finance = rw.member("finance@vendor.example", TeamRole.ADMIN)
    path = cli_env / "batch.csv"

    first = runner.invoke(
        app, ["rewards", "export", str(path), "--by", "finance@vendor.example", "--at", AT]
    )
    assert first.exit_code == 0, first.output
    assert first.output == f"{path}: 1 new (batch 1, net total 500.00), 0 recipient(s) to recover\n"
    with path.open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["batch"], row["reward_id"], row["net_amount"]) == ("1", str(released), "500.00")
    assert rw.ledger(released)[-1][2] == f"team_member:{finance}"

    again = runner.invoke(app, ["rewards", "export", str(path), "--at", AT])
    assert again.output == f"{path}: 0 new (no batch, net total 0), 0 recipient(s) to recover\n"
    assert path.read_text(encoding="utf-8").count("\n") == 1  # the header only
    repeat = runner.invoke(app, ["rewards", "export", str(path), "--again", "--json"])
    assert json.loads(repeat.output)["batch"] == 2
    wrong = runner.invoke(app, ["rewards", "export", str(path), "--status", "paid"])
    assert wrong.exit_code == 2 and "only released rewards" in wrong.output
    stranger = runner.invoke(app, ["rewards", "export", str(path), "--by", "x@y.example"])
    assert stranger.exit_code == 1
    assert stranger.output.startswith("problem: --by must be an active team member")

    nothing = runner.invoke(app, ["rewards", "mark-paid"])
    assert nothing.exit_code == 2 and "name the reward ids" in nothing.output
    no_ref = runner.invoke(app, ["rewards", "mark-paid", str(released)])
    assert no_ref.exit_code == 2 and "--reference is required" in no_ref.output

    paid_file = cli_env / "paid.csv"
    paid_file.write_text(f"reward_id,reference\n{released},RUN-1\nseven,RUN-1\n", encoding="utf-8")
    from_csv = runner.invoke(app, ["rewards", "mark-paid", "--from-csv", str(paid_file)])
    assert from_csv.exit_code == 1
    assert from_csv.output.splitlines() == [
        f"{paid_file}: line 3, field 'reward_id': is not a reward id",
        f"{paid_file}: read 2, paid 1, unchanged 0, rejected 1",
    ]
    assert rw.reward(released).payment_reference == "RUN-1"

    by_id = runner.invoke(app, ["rewards", "mark-paid", str(released), "--reference", "RUN-2"])
    assert (by_id.exit_code, by_id.output) == (0, f"reward {released}: already paid, unchanged\n")
    refused = runner.invoke(app, ["rewards", "mark-paid", "424242", "--reference", "RUN-2"])
    assert refused.exit_code == 1
    assert refused.output == "problem: reward 424242 does not exist, not released\n"
    unreadable = runner.invoke(app, ["rewards", "mark-paid", "--from-csv", "nothere.csv"])
    assert (unreadable.exit_code, unreadable.output) == (
        1,
        "problem: nothere.csv: no such file\n",
    )


def test_tax_form(runner, rewards):
    email = rewards.email
    on = runner.invoke(app, ["referrers", "tax-form", email, "--on-file"])
    assert (on.exit_code, on.output) == (0, "tax form on file (recorded)\n")
    same = runner.invoke(app, ["referrers", "tax-form", email, "--on-file"])
    assert same.output == "tax form on file (unchanged)\n"
    off = runner.invoke(app, ["referrers", "tax-form", email, "--missing"])
    assert off.output == "tax form missing (recorded)\n"
    neither = runner.invoke(app, ["referrers", "tax-form", email])
    assert neither.exit_code == 2 and "say --on-file or --missing" in neither.output
    bad = runner.invoke(app, ["referrers", "tax-form", "nobody", "--on-file"])
    assert (bad.exit_code, bad.output) == (1, "problem: EMAIL is not an email address\n")
