"""Rewards end to end for the decision and finance tests: intros captured by link, pushed to
the sandbox CRM, won and paid there, synced back, then run through release-rewards and the
finance-queue fulfilment adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.models import (
    Person,
    Referral,
    Reward,
    RewardLedgerEntry,
    SandboxDeal,
    SandboxDealStageEntry,
    TeamMember,
)
from domain.program import Program, load_preset
from domain.program_rewards import Approval
from domain.referrals.intake import validate_intake
from domain.statuses import OutboxChannel, ReferralChannel, TeamRole
from integrations.deliverers import (
    ChatDeliverer,
    CrmDeliverer,
    EmailDeliverer,
    FulfilmentDeliverer,
)
from integrations.finance_queue import FinanceQueue
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.email_folder import EmailFolderSender
from tasks.outbox_dispatch import dispatch_outbox
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.referrals.track import track_referrals
from tasks.rewards.release import release_rewards
from tasks.sync_crm import sync_crm
from tests.scenario import World

SAAS = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)
WON = NOW + 5 * DAY
PAID = NOW + 10 * DAY
DUE = PAID + 30 * DAY  # the saas preset holds rewards 30 days after the first payment


def approving(program: Program = SAAS, above: Decimal = Decimal(100)) -> Program:
    """The program with every rule asking an approver above ``above``."""
    rules = tuple(
        rule.model_copy(update={"approval": Approval(above_amount=above)})
        for rule in program.rewards
    )
    return program.model_copy(update={"rewards": rules})


@dataclass(frozen=True)
class Referrer:
    person_id: int
    account_id: int
    email: str
    code: str


class RewardWorld:
    def __init__(self, factory: sessionmaker[Session], tmp_path: Path, program: Program) -> None:
        self.factory, self.program = factory, program
        self.settings = Settings(REFERRALS_DATA_DIR=tmp_path, REFERRALS_SECRET_KEY="test-secret")
        self.crm = SandboxCrm(factory, now=lambda: NOW)
        self.deliverers = {
            OutboxChannel.CRM: CrmDeliverer(self.crm),
            OutboxChannel.EMAIL: EmailDeliverer(
                EmailFolderSender(tmp_path / "outbox", "r@x.example")
            ),
            OutboxChannel.CHAT: ChatDeliverer(ChatLogNotifier(tmp_path / "chat.log")),
            OutboxChannel.FULFILMENT: FulfilmentDeliverer(FinanceQueue()),
        }
        self.world = World(factory)
        # Members without a CRM owner id: the sandbox CRM's sync would deactivate them.
        self.csm = self.member("casey@vendor.example", TeamRole.CSM)
        self.approver = self.member("approver@vendor.example", TeamRole.APPROVER)
        self._companies = 0

    def member(self, email: str, role: TeamRole | None, active: bool = True) -> int:
        with self.factory.begin() as session:
            member = TeamMember(email=email, name=email.split("@")[0], role=role, active=active)
            session.add(member)
            session.flush()
            return member.id

    def email_of(self, member_id: int) -> str:
        with self.factory() as session:
            return session.get(TeamMember, member_id).email

    def referrer(self, csm: int | None = None, referrer_type: str = "client") -> Referrer:
        """A champion at an account owned by ``csm`` (default: the world's CSM)."""
        account = self.world.account(csm or self.csm, name="Client")
        person = self.world.person(account)
        with self.factory() as session:
            email = session.get(Person, person).email
        return Referrer(person, account, email, self.world.link(person, referrer_type))

    def intro(self, referrer: Referrer) -> int:
        """One more intro by ``referrer`` (a new company each time); its referral id."""
        self._companies += 1
        n = self._companies
        intake, errors = validate_intake(
            {"company": f"Acme {n}", "domain": f"acme{n}.io", "email": f"cfo@acme{n}.io"}
        )
        assert intake is not None, errors
        [result] = capture_referrals(
            self.factory,
            self.program,
            self.settings,
            [CaptureInput(ReferralChannel.LINK, intake, code=referrer.code)],
            NOW,
        )
        assert result.problem is None, result.problem
        return result.referral_id

    def push(self, at: datetime = NOW + DAY / 24) -> None:
        """Decide the intros and create their deals in the sandbox CRM."""
        track_referrals(self.factory, self.program, self.settings, self.deliverers, at)

    def deal_moves(
        self,
        referral_id: int,
        stage: str,
        at: datetime,
        amount: Decimal | None = None,
        first_payment: datetime | None = None,
    ) -> None:
        """The deal reaches ``stage`` in the CRM at ``at``; then the next sync sees it."""
        with self.factory() as session:
            deal_id = session.get(Referral, referral_id).crm_deal_id
        assert deal_id, "push() first"
        with self.factory.begin() as session:
            deal = session.get(SandboxDeal, deal_id)
            deal.stage_id, deal.stage_entered_at, deal.updated_at = stage, at, at + DAY
            if stage.startswith("closed"):
                deal.closed_at = at
            if amount is not None:
                deal.amount = amount
            if first_payment is not None:
                deal.properties = {
                    **deal.properties,
                    "first_payment_date": first_payment.isoformat(),
                }
                deal.updated_at = max(deal.updated_at, first_payment)
            session.add(SandboxDealStageEntry(deal_id=deal_id, stage_id=stage, entered_at=at))

    def win(self, *referral_ids: int, amount: Decimal | None = None) -> None:
        """Each deal is won on WON and first paid on PAID; synced."""
        for referral_id in referral_ids:
            self.deal_moves(referral_id, "closedwon", WON, amount, first_payment=PAID)
        self.sync()

    def sync(self) -> None:
        sync_crm(self.factory, self.crm, self.program, settings=self.settings)

    def release(self, at: datetime) -> dict[str, int]:
        return dict(release_rewards(self.factory, self.program, self.settings, at).counts)

    def dispatch(self, at: datetime) -> None:
        dispatch_outbox(self.factory, self.deliverers, at)

    def rewards_of(self, referral_id: int) -> list[Reward]:
        with self.factory() as session:
            return list(
                session.scalars(
                    select(Reward).where(Reward.referral_id == referral_id).order_by(Reward.id)
                )
            )

    def reward(self, reward_id: int) -> Reward:
        with self.factory() as session:
            return session.get(Reward, reward_id)

    def ledger(self, reward_id: int) -> list[tuple[str, Decimal, str, str | None]]:
        with self.factory() as session:
            return [
                (str(e.entry), e.amount, e.actor, e.note)
                for e in session.scalars(
                    select(RewardLedgerEntry)
                    .where(RewardLedgerEntry.reward_id == reward_id)
                    .order_by(RewardLedgerEntry.id)
                )
            ]


def awaiting_approval(rw: RewardWorld, referrer: Referrer | None = None) -> int:
    """A reward of ``referrer`` (default: a new one) past its hold, waiting for an approver."""
    referral = rw.intro(referrer or rw.referrer())
    rw.push()
    rw.win(referral)
    rw.release(PAID + DAY)
    rw.release(DUE)
    [reward] = rw.rewards_of(referral)
    assert str(reward.status) == "awaiting_approval", reward.status
    return reward.id
