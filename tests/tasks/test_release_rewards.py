"""release-rewards on the database, through the sandbox CRM: the hold window to the second,
exactly one release, thank-you and payout per reward, staged parts, % with a cap, void inside
the window, clawback after release and netting, flip-flops, amount changes, the yearly cap,
the tax-form hold, suppression, and two runs at once on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.models import (
    Account,
    OutboxMessage,
    Referral,
    Reward,
    RewardLedgerEntry,
    SandboxDeal,
    SandboxDealStageEntry,
    Suppression,
    TaxForm,
)
from domain.program import Program, load_preset
from domain.program_rewards import RewardPolicy
from domain.referrals.intake import validate_intake
from domain.statuses import LedgerEntry, OutboxChannel, OutboxStatus, ReferralChannel
from domain.statuses import RewardStatus as R
from integrations.deliverers import ChatDeliverer, CrmDeliverer, EmailDeliverer
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.email_folder import EmailFolderSender
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.referrals.track import track_referrals
from tasks.rewards.finance import mark_paid
from tasks.rewards.release import release_rewards
from tasks.sync_crm import sync_crm
from tests.conftest import is_postgres
from tests.scenario import World

SAAS = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
WON = NOW + 5 * DAY
PAID = NOW + 10 * DAY
DUE = PAID + 30 * DAY  # saas: first payment + 30 days


class Env:
    """One test's database, CRM sandbox and program."""

    def __init__(self, factory: sessionmaker[Session], tmp_path: Any, program: Program) -> None:
        self.factory = factory
        self.program = program
        self.settings = Settings(REFERRALS_DATA_DIR=tmp_path, REFERRALS_SECRET_KEY="test")
        self.crm = SandboxCrm(factory, now=lambda: NOW)
        self.deliverers = {
            OutboxChannel.CRM: CrmDeliverer(self.crm),
            OutboxChannel.EMAIL: EmailDeliverer(EmailFolderSender(tmp_path / "out", "r@x.example")),
            OutboxChannel.CHAT: ChatDeliverer(ChatLogNotifier(tmp_path / "chat.log")),
        }
        self.world = World(factory)
        self.csm = self.world.csm(slack="U0CSM00001")

    def referrer(self, referrer_type: str = "client") -> str:
        """A new referrer at a client account of their own; returns their link code."""
        account = self.world.account(self.csm, name="Client")
        with self.factory.begin() as session:
            session.get(Account, account).domain = f"client{account}.example"
        return self.world.link(self.world.person(account), referrer_type)

    def refer(self, code: str, company: str) -> tuple[int, str]:
        """A referral pushed to the CRM; returns its id and its CRM deal id."""
        domain = f"{company.lower()}.io"
        intake, errors = validate_intake(
            {"company": company, "domain": domain, "email": f"cfo@{domain}"}
        )
        assert intake is not None, errors
        [made] = capture_referrals(
            self.factory,
            self.program,
            self.settings,
            [CaptureInput(ReferralChannel.LINK, intake, code=code)],
            NOW,
        )
        assert made.problem is None, made.problem
        track_referrals(
            self.factory, self.program, self.settings, self.deliverers, NOW + timedelta(hours=1)
        )
        with self.factory() as session:
            referral = session.get(Referral, made.referral_id)
            assert referral is not None and referral.crm_deal_id, referral
            return made.referral_id, referral.crm_deal_id

    def move(self, deal_id: str, stage_id: str, at: datetime, **properties: Any) -> None:
        """The deal enters ``stage_id`` at ``at`` (CRM time); ``amount`` changes the amount,
        other keywords set deal properties (milestone dates)."""
        with self.factory.begin() as session:
            deal = session.get(SandboxDeal, deal_id)
            assert deal is not None
            if "amount" in properties:
                deal.amount = properties.pop("amount")
            if stage_id != deal.stage_id:
                deal.stage_id, deal.stage_entered_at = stage_id, at
                if stage_id in ("closedwon", "closedlost"):
                    deal.closed_at = at
                session.add(
                    SandboxDealStageEntry(deal_id=deal_id, stage_id=stage_id, entered_at=at)
                )
            dates = {k: v.isoformat() for k, v in properties.items()}
            deal.properties = {**deal.properties, **dates}
            deal.updated_at = max(at, deal.updated_at + SECOND)
        sync_crm(self.factory, self.crm, self.program, settings=self.settings)

    def pay(self, deal_id: str, won: datetime = WON, paid: datetime = PAID) -> None:
        self.move(deal_id, "closedwon", won)
        self.move(deal_id, "closedwon", paid, first_payment_date=paid)

    def finance_pays(self, reward_id: int, at: datetime) -> None:
        report = mark_paid(self.factory, [reward_id], "BANK-1", None, at)
        assert report.paid == [reward_id], report

    def release(self, at: datetime) -> dict[str, int]:
        return dict(release_rewards(self.factory, self.program, self.settings, at).counts)

    def rewards(self, referral_id: int | None = None) -> list[Reward]:
        with self.factory() as session:
            query = select(Reward).order_by(Reward.id)
            if referral_id is not None:
                query = query.where(Reward.referral_id == referral_id)
            return list(session.scalars(query))

    def ledger(self, reward_id: int) -> list[tuple[LedgerEntry, Decimal]]:
        with self.factory() as session:
            rows = session.execute(
                select(RewardLedgerEntry.entry, RewardLedgerEntry.amount)
                .where(RewardLedgerEntry.reward_id == reward_id)
                .order_by(RewardLedgerEntry.id)
            ).all()
        return [(entry, amount) for entry, amount in rows]

    def notes(self, reward_id: int, entry: LedgerEntry) -> list[str]:
        with self.factory() as session:
            return list(
                session.scalars(
                    select(RewardLedgerEntry.note).where(
                        RewardLedgerEntry.reward_id == reward_id, RewardLedgerEntry.entry == entry
                    )
                )
            )

    def outbox(self, template: str) -> list[OutboxMessage]:
        with self.factory() as session:
            return list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.template == template)
                    .order_by(OutboxMessage.id)
                )
            )


@pytest.fixture
def env(factory, tmp_path) -> Env:
    return Env(factory, tmp_path, SAAS)


def entries(env: Env, reward_id: int) -> list[LedgerEntry]:
    return [entry for entry, _ in env.ledger(reward_id)]


def test_released_at_the_edge_of_the_window_exactly_once(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    env.pay(deal_id)

    env.release(PAID + DAY)
    [held] = env.rewards(referral_id)
    assert held.status is R.HOLDING and held.qualified_at == PAID and held.release_after == DUE
    env.release(DUE - SECOND)
    assert env.rewards(referral_id)[0].status is R.HOLDING

    counts = env.release(DUE)
    [reward] = env.rewards(referral_id)
    assert reward.status is R.RELEASED and reward.released_at == DUE
    assert reward.net_amount == Decimal("500.00") and reward.clawback_until == DUE + 90 * DAY
    assert counts["rewards released"] == 1
    assert entries(env, reward.id) == [
        LedgerEntry.ACCRUED,
        LedgerEntry.HELD,
        LedgerEntry.RELEASED,
    ]
    for later in (DUE, DUE + DAY):
        assert env.release(later) == {}
    [thanks] = env.outbox("reward_released")
    [payout] = env.outbox("payout")
    assert thanks.status is OutboxStatus.PENDING and "500.00" in str(thanks.payload)
    assert payout.payload["amount"] == "500.00" and payout.channel is OutboxChannel.FULFILMENT
    assert len(env.outbox("rewards_released_note")) == 1


def test_released_on_the_first_run_after_the_window(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    env.pay(deal_id)
    # No run between the milestone and long after the window: one run holds and releases.
    env.release(DUE + 3 * DAY)
    [reward] = env.rewards(referral_id)
    assert reward.status is R.RELEASED and reward.qualified_at == PAID
    assert entries(env, reward.id) == [LedgerEntry.ACCRUED, LedgerEntry.HELD, LedgerEntry.RELEASED]


def test_staged_recruitment_parts_release_separately(factory, tmp_path) -> None:
    env = Env(factory, tmp_path, load_preset("recruitment"))
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    with factory.begin() as session:
        session.add(TaxForm(email=_email(env, referral_id), recorded_at=NOW, recorded_by="t"))
    env.move(deal_id, "closedwon", WON)

    env.release(WON + DAY)
    first, second = env.rewards(referral_id)
    assert (first.status, first.amount, first.release_after) == (R.RELEASED, 1000, WON)
    assert (second.status, second.amount) == (R.PENDING, 1000)

    env.move(deal_id, "closedwon", PAID, first_payment_date=PAID)
    env.release(PAID + 90 * DAY - SECOND)
    assert env.rewards(referral_id)[1].status is R.HOLDING
    env.release(PAID + 90 * DAY)
    assert [r.status for r in env.rewards(referral_id)] == [R.RELEASED, R.RELEASED]
    assert len(env.outbox("reward_released")) == 2 and len(env.outbox("payout")) == 2


def test_a_partner_earns_a_capped_percentage(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer("partner"), "Acme")
    env.move(deal_id, "contractsent", NOW + 2 * DAY, amount=Decimal("80000"))
    env.move(deal_id, "closedwon", WON)
    env.move(deal_id, "closedwon", PAID, first_payment_date=PAID)
    env.release(PAID + DAY)
    [reward] = env.rewards(referral_id)
    assert reward.amount == Decimal("5000.00") and reward.reward_type == "commission"
    assert "10% of the deal's USD 80,000.00 = USD 8,000.00, capped at USD 5,000.00" in (
        reward.computation
    )
    assert reward.needs_approval  # above the partner rule's 2,000


def test_a_deal_lost_inside_the_window_voids_and_the_ledger_says_why(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    env.pay(deal_id)
    env.release(PAID + DAY)
    env.move(deal_id, "closedlost", PAID + 5 * DAY)
    env.release(PAID + 6 * DAY)
    [reward] = env.rewards(referral_id)
    assert reward.status is R.VOIDED and reward.void_reason == "deal_closed_lost"
    [why] = env.notes(reward.id, LedgerEntry.VOIDED)
    assert "closed lost on 2026-03-17" in why
    env.release(DUE + DAY)
    assert env.rewards(referral_id)[0].status is R.VOIDED
    assert env.outbox("reward_released") == [] and env.outbox("payout") == []


def test_a_deal_lost_after_release_is_clawed_back_and_netted_from_the_next(env: Env) -> None:
    code = env.referrer()
    first_id, first_deal = env.refer(code, "Acme")
    second_id, second_deal = env.refer(code, "Beta")
    env.pay(first_deal)
    env.release(DUE)
    env.finance_pays(env.rewards(first_id)[0].id, DUE + DAY)
    env.move(first_deal, "closedlost", DUE + 10 * DAY)
    env.release(DUE + 11 * DAY)
    [first] = env.rewards(first_id)
    assert first.status is R.CLAWED_BACK
    assert env.ledger(first.id)[-1] == (LedgerEntry.CLAWED_BACK, Decimal("-500.00"))

    env.pay(second_deal, won=DUE + 12 * DAY, paid=DUE + 15 * DAY)
    env.release(DUE + 45 * DAY)
    [second] = env.rewards(second_id)
    assert second.status is R.RELEASED and second.net_amount == Decimal("0.00")
    assert env.ledger(second.id)[-2:] == [
        (LedgerEntry.RELEASED, Decimal("500.00")),
        (LedgerEntry.NETTED, Decimal("-500.00")),
    ]
    assert env.ledger(first.id)[-1] == (LedgerEntry.RECOVERED, Decimal("500.00"))
    payouts = {p.subject_id: p.payload["amount"] for p in env.outbox("payout")}
    assert payouts == {first.id: "500.00", second.id: "0.00"}  # finance sees it netted
    # Settled: a rerun nets nothing more.
    env.release(DUE + 46 * DAY)
    assert len(env.ledger(first.id)) == len(entries(env, first.id))
    assert entries(env, first.id).count(LedgerEntry.RECOVERED) == 1


def test_a_deal_lost_after_release_before_finance_paid_is_voided_not_owed(env: Env) -> None:
    code = env.referrer()
    first_id, first_deal = env.refer(code, "Acme")
    second_id, second_deal = env.refer(code, "Beta")
    env.pay(first_deal)
    env.release(DUE)
    env.move(first_deal, "closedlost", DUE + 2 * DAY)
    env.release(DUE + 3 * DAY)
    [first] = env.rewards(first_id)
    assert first.status is R.VOIDED and first.void_reason == "deal_closed_lost_before_payment"
    assert "nothing to recover" in env.notes(first.id, LedgerEntry.VOIDED)[0]
    env.pay(second_deal, won=DUE + 4 * DAY, paid=DUE + 5 * DAY)
    env.release(DUE + 35 * DAY)
    [second] = env.rewards(second_id)
    assert second.status is R.RELEASED and second.net_amount == Decimal("500.00")
    assert LedgerEntry.NETTED not in entries(env, second.id)


def test_a_partial_debt_reduces_the_next_payout(env: Env) -> None:
    code = env.referrer("partner")
    first_id, first_deal = env.refer(code, "Acme")
    second_id, second_deal = env.refer(code, "Beta")
    with env.factory.begin() as session:  # commissions are cash-like: over 600 a year
        session.add(TaxForm(email=_email(env, first_id), recorded_at=NOW, recorded_by="t"))
    for deal_id in (first_deal, second_deal):
        env.move(deal_id, "contractsent", NOW + 2 * DAY, amount=Decimal("10000"))
    env.pay(first_deal)
    env.release(DUE)
    [first] = env.rewards(first_id)
    assert first.status is R.RELEASED and first.amount == Decimal("1000.00")
    env.finance_pays(first.id, DUE + DAY)
    # The deal shrinks inside the clawback window: 300 to recover, never silently.
    env.move(first_deal, "closedwon", DUE + 2 * DAY, amount=Decimal("7000"))
    env.release(DUE + 3 * DAY)
    assert env.rewards(first_id)[0].amount == Decimal("700.00")
    assert env.ledger(first.id)[-1] == (LedgerEntry.CLAWED_BACK, Decimal("-300.00"))

    env.pay(second_deal, won=DUE + 4 * DAY, paid=DUE + 5 * DAY)
    env.release(DUE + 35 * DAY)
    [second] = env.rewards(second_id)
    assert second.status is R.RELEASED and second.net_amount == Decimal("700.00")
    payout = next(p for p in env.outbox("payout") if p.subject_id == second.id)
    assert payout.payload["amount"] == "700.00"


def test_a_stage_flip_flop_creates_no_second_reward_and_keeps_the_window(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    env.pay(deal_id)
    env.release(PAID + DAY)
    env.move(deal_id, "contractsent", PAID + 2 * DAY)
    env.release(PAID + 3 * DAY)
    env.move(deal_id, "closedwon", PAID + 4 * DAY)
    env.release(PAID + 5 * DAY)
    [reward] = env.rewards(referral_id)
    assert reward.status is R.HOLDING and reward.release_after == DUE
    assert entries(env, reward.id) == [LedgerEntry.ACCRUED, LedgerEntry.HELD]
    env.release(DUE)
    assert [r.status for r in env.rewards()] == [R.RELEASED]


def test_a_requalified_deal_restarts_the_window_when_the_program_says_so(factory, tmp_path):
    program = SAAS.model_copy(
        update={"reward_policy": RewardPolicy(restart_window_on_requalify=True)}
    )
    env = Env(factory, tmp_path, program)
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    env.pay(deal_id)
    env.release(PAID + DAY)
    env.move(deal_id, "contractsent", PAID + 2 * DAY)
    env.move(deal_id, "closedwon", PAID + 4 * DAY)  # the first-payment date is still set
    env.release(DUE)
    [reward] = env.rewards(referral_id)
    assert reward.status is R.HOLDING and reward.release_after == DUE + 4 * DAY
    assert entries(env, reward.id)[-1] is LedgerEntry.WINDOW_RESTARTED
    env.release(DUE + 4 * DAY)
    assert env.rewards(referral_id)[0].status is R.RELEASED


def test_a_deal_below_its_stage_when_the_window_ends_waits(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    env.pay(deal_id)
    env.release(PAID + DAY)
    env.move(deal_id, "contractsent", DUE - DAY)
    env.release(DUE + DAY)
    assert env.rewards(referral_id)[0].status is R.HOLDING
    env.move(deal_id, "closedwon", DUE + 2 * DAY)
    env.release(DUE + 2 * DAY)
    assert env.rewards(referral_id)[0].status is R.RELEASED


def test_an_amount_change_recomputes_before_release(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer("partner"), "Acme")
    env.move(deal_id, "contractsent", NOW + 2 * DAY, amount=Decimal("12000"))
    env.pay(deal_id)
    env.release(PAID + DAY)
    assert env.rewards(referral_id)[0].amount == Decimal("1200.00")
    env.move(deal_id, "closedwon", PAID + 2 * DAY, amount=Decimal("9000"))
    env.release(PAID + 3 * DAY)
    [reward] = env.rewards(referral_id)
    assert (reward.status, reward.amount, reward.basis_amount) == (R.HOLDING, 900, 9000)
    assert env.ledger(reward.id)[-1] == (LedgerEntry.RECOMPUTED, Decimal("-300.00"))
    [why] = env.notes(reward.id, LedgerEntry.RECOMPUTED)
    assert "USD 1,200.00 -> USD 900.00" in why
    env.move(deal_id, "closedwon", PAID + 4 * DAY, amount=Decimal("0"))
    env.release(PAID + 5 * DAY)
    assert env.rewards(referral_id)[0].status is R.VOIDED


def test_the_yearly_cap_waits_for_approval_over_it(factory, tmp_path) -> None:
    policy = RewardPolicy(yearly_cap={"amount": "800", "over": "approval"})
    env = Env(factory, tmp_path, SAAS.model_copy(update={"reward_policy": policy}))
    code = env.referrer()
    ids = [env.refer(code, name) for name in ("Acme", "Beta")]
    for _, deal_id in ids:
        env.pay(deal_id)
    env.release(DUE)
    statuses = [env.rewards(referral_id)[0].status for referral_id, _ in ids]
    assert statuses == [R.RELEASED, R.AWAITING_APPROVAL]
    waiting = env.rewards(ids[1][0])[0]
    assert "yearly cap" in (waiting.wait_reason or "")
    approvals = env.outbox("reward_approval")
    assert approvals == [] or all(m.subject_id == waiting.id for m in approvals)


def test_the_yearly_cap_cuts_when_the_program_says_so(factory, tmp_path) -> None:
    policy = RewardPolicy(yearly_cap={"amount": "800", "over": "cut"})
    env = Env(factory, tmp_path, SAAS.model_copy(update={"reward_policy": policy}))
    code = env.referrer()
    ids = [env.refer(code, name) for name in ("Acme", "Beta", "Gamma")]
    for _, deal_id in ids:
        env.pay(deal_id)
    env.release(DUE)
    rewards = [env.rewards(referral_id)[0] for referral_id, _ in ids]
    assert [(r.status, r.amount) for r in rewards] == [
        (R.RELEASED, 500),
        (R.RELEASED, 300),
        (R.VOIDED, 500),
    ]
    assert entries(env, rewards[1].id)[-2:] == [LedgerEntry.RECOMPUTED, LedgerEntry.RELEASED]
    assert rewards[2].void_reason == "yearly_cap_reached"


def test_cash_over_the_tax_form_threshold_waits_for_the_form(factory, tmp_path) -> None:
    env = Env(factory, tmp_path, load_preset("recruitment"))  # cash, threshold 600
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    env.move(deal_id, "closedwon", WON)
    env.release(WON + DAY)
    [first, _] = env.rewards(referral_id)
    assert first.status is R.AWAITING_TAX_FORM and first.wait_reason == "tax_form"
    env.release(WON + 2 * DAY)
    assert entries(env, first.id).count(LedgerEntry.AWAITING_TAX_FORM) == 1
    assert env.outbox("payout") == []

    with factory.begin() as session:
        session.add(TaxForm(email=_email(env, referral_id), recorded_at=NOW, recorded_by="t"))
    env.release(WON + 3 * DAY)
    assert env.rewards(referral_id)[0].status is R.RELEASED
    assert len(env.outbox("payout")) == 1


def test_a_suppressed_recipient_is_not_thanked_but_still_rewarded(env: Env) -> None:
    referral_id, deal_id = env.refer(env.referrer(), "Acme")
    with env.factory.begin() as session:
        email = _email(env, referral_id)
        session.add(Suppression(email=email, reason="unsubscribe", source="link", created_at=NOW))
    env.pay(deal_id)
    env.release(DUE)
    assert env.rewards(referral_id)[0].status is R.RELEASED
    [thanks] = env.outbox("reward_released")
    assert thanks.status is OutboxStatus.SUPPRESSED and "suppression list" in thanks.last_error
    assert len(env.outbox("payout")) == 1


def _email(env: Env, referral_id: int) -> str:
    with env.factory() as session:
        referral = session.get(Referral, referral_id)
        assert referral is not None and referral.referrer_email
        return referral.referrer_email.lower()


@pytest.mark.postgres_only
@pytest.mark.skipif(not is_postgres(), reason="a real race needs PostgreSQL's row locks")
def test_two_release_runs_at_once_release_each_reward_once(committed_factory, tmp_path):
    env = Env(committed_factory, tmp_path, SAAS)
    code = env.referrer()
    referrals = [env.refer(code, name) for name in ("Acme", "Beta", "Gamma")]
    referrals += [env.refer(env.referrer(), name) for name in ("Delta", "Epsilon", "Zeta")]
    for _, deal_id in referrals:
        env.pay(deal_id)
    env.release(PAID + DAY)
    assert {r.status for r in env.rewards()} == {R.HOLDING}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    counts: Counter[str] = Counter()

    def run() -> None:
        try:
            barrier.wait()
            report = release_rewards(committed_factory, SAAS, env.settings, DUE)
            counts.update(report.counts)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counts["rewards released"] == 6 and counts["thank-you emails enqueued"] == 6
    rewards = env.rewards()
    assert len(rewards) == 6 and {r.status for r in rewards} == {R.RELEASED}
    with committed_factory() as session:
        released = session.execute(
            select(RewardLedgerEntry.reward_id, func.count())
            .where(RewardLedgerEntry.entry == LedgerEntry.RELEASED)
            .group_by(RewardLedgerEntry.reward_id)
        ).all()
    assert sorted(count for _, count in released) == [1] * 6
    assert sorted(m.subject_id for m in env.outbox("reward_released")) == [r.id for r in rewards]
    assert sorted(m.subject_id for m in env.outbox("payout")) == [r.id for r in rewards]
