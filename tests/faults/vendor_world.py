"""The vendor fault suite's world: a generated book in a local HubSpot portal, its team in a
local Slack workspace, a local SendGrid, each with a seeded fault plan, and the real adapters
pointed at them with short timeouts and a recorded (not slept) backoff.

What people do between the program's runs is done here too, straight on the fakes' state (no
HTTP, so no faults): champions submit intros with their codes, deals are won and first paid
in the portal, an approver approves rewards.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.models import Account, Ask, OutboxMessage, Referral, ReferralLink, Reward
from domain.program import Program, load_preset
from domain.referrals.intake import validate_intake
from domain.statuses import OutboxStatus, ReferralChannel
from integrations.finance_queue import FinanceQueue
from integrations.hubspot.factory import build_hubspot_crm
from integrations.ports import program_properties
from integrations.sandbox.portal import SANDBOX_PIPELINES
from integrations.sendgrid.factory import build_sendgrid_mail
from integrations.slack.chat import build_slack_chat
from integrations.wiring import Adapters
from simulation.book import Book, generate_book
from simulation.signals_file import write_signals
from simulation.team_file import APPROVER_EMAIL, approvers, write_team_file
from tasks.ingest_signals import ingest_rows
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.rewards.decide import DecisionError, decide_reward
from tasks.signal_files import read_rows
from tasks.team import import_team
from tests.fakes.faults import FaultPlan
from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.slack_server import FakeSlack
from tests.tasks.reward_world import approving

# Knobs for a bigger run (the benchmark): REFERRALS_FAULT_RATE, REFERRALS_FAULT_ROUNDS,
# REFERRALS_FAULT_ACCOUNTS, REFERRALS_FAULT_SEED.
RATE = float(os.environ.get("REFERRALS_FAULT_RATE", "0.2"))
ROUNDS = int(os.environ.get("REFERRALS_FAULT_ROUNDS", "4"))
ACCOUNTS = int(os.environ.get("REFERRALS_FAULT_ACCOUNTS", "60"))
SEED = int(os.environ.get("REFERRALS_FAULT_SEED", "13"))
CLIENT_TIMEOUT = 0.5  # seconds the adapters wait for an answer
HOLD = 0.8  # a slow answer comes this long after the write: past the client's timeout
INTROS = max(12, ACCOUNTS // 2)  # intros captured from the first asks
PENDING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


@dataclass
class Fakes:
    hubspot: FakeHubSpot
    slack: FakeSlack
    sendgrid: FakeSendGrid
    plans: dict[str, FaultPlan]
    clock: list[datetime]  # the portal's clock: [now]; records it changes are stamped with it
    slept: list[float] = field(default_factory=list)  # every backoff the adapters asked for

    def injected(self) -> Counter[str]:
        return sum((p.by_kind() for p in self.plans.values()), Counter())

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """No faults inside: the test's own seeding and inspection through an adapter."""
        with contextlib.ExitStack() as stack:
            for plan in self.plans.values():
                stack.enter_context(plan.paused())
            yield


@contextlib.contextmanager
def vendor_fakes(rate: float = RATE, seed: int = SEED) -> Iterator[Fakes]:
    """The three local vendors, each with its own seeded plan at ``rate`` on every endpoint."""
    plans = {
        name: FaultPlan(rate, seed=seed + n, hold=HOLD)
        for n, name in enumerate(("hubspot", "slack", "sendgrid"))
    }
    # The portal runs on the program's simulated time, so what a run writes and what people
    # change between runs are stamped in order and the incremental sync sees both.
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    with (
        FakeHubSpot(now=lambda: clock[0], faults=plans["hubspot"]) as hubspot,
        FakeSlack(faults=plans["slack"]) as slack,
        FakeSendGrid(faults=plans["sendgrid"]) as sendgrid,
    ):
        yield Fakes(hubspot, slack, sendgrid, plans, clock)


def real_adapters(fakes: Fakes, settings: Settings) -> Adapters:
    """HubSpot, Slack and SendGrid adapters as the wiring builds them, on the fakes; their
    waits are recorded instead of slept, so a round stands for the scheduler's next run."""
    sleep = fakes.slept.append
    crm = build_hubspot_crm(
        fakes.hubspot.token,
        fakes.hubspot.base_url,
        10_000,
        1_000,
        sleep=sleep,
        timeout=CLIENT_TIMEOUT,
    )
    mail = build_sendgrid_mail(
        fakes.sendgrid.api_key,
        fakes.sendgrid.base_url,
        default_from=settings.email_from,
        timeout=CLIENT_TIMEOUT,
        sleep=sleep,
    )
    chat = build_slack_chat(
        fakes.slack.token, fakes.slack.base_url, sleep=sleep, timeout=CLIENT_TIMEOUT
    )
    names = {"crm": "hubspot", "email": "sendgrid", "chat": "slack", "fulfilment": "finance"}
    return Adapters(crm=crm, email=mail, chat=chat, names=names, fulfilment=FinanceQueue())


def fault_program() -> Program:
    """The saas preset with every reward waiting for an approver (approver notes by chat and
    email), so release-rewards writes to both vendors."""
    return approving(load_preset("saas"), above=Decimal(100))


def today(book: Book) -> datetime:
    """The first program day: the morning after the book's signals."""
    return datetime.combine(book.start + timedelta(days=book.days), time(9), UTC)


def new_book(accounts: int = ACCOUNTS, seed: int = SEED) -> Book:
    return generate_book(seed=seed, accounts=accounts, days=30)


def seed_vendors(fakes: Fakes, adapters: Adapters, book: Book, program: Program) -> None:
    """The portal as a customer's would be after `referrals crm setup`: owners, pipelines,
    companies, contacts and deals of the book; the team and the approvers in Slack."""
    hubspot = fakes.hubspot
    with fakes.quiet():
        adapters.crm.setup(program_properties(list(program.stage_map.milestones.values())))
    for pipeline in SANDBOX_PIPELINES[1:]:
        hubspot.add_pipeline(
            pipeline.id, pipeline.label, [(s.id, s.label, s.closed, s.won) for s in pipeline.stages]
        )
    for m in book.team:
        first, _, last = m.name.partition(" ")
        hubspot.add_owner(m.email, first, last, teams=[m.team], id=m.crm_owner_id)
        # Members without a Slack id in the team file are looked up by email.
        fakes.slack.add_user(m.email, m.slack_user_id)
    for email, slack_id, _ in approvers(len(book.companies)):
        fakes.slack.add_user(email, slack_id)
    ids = {}
    for c in book.companies:
        ids[c.crm_id] = hubspot.add_company(
            {
                "name": c.name,
                "domain": c.domain,
                "industry": c.industry,
                "segment": c.segment,
                "lifecyclestage": c.lifecycle,
                "hubspot_owner_id": c.owner_crm_id,
                "health_score": str(c.health_score),
                **(
                    {"onboarding_completed_at": c.onboarding_completed_at.isoformat()}
                    if c.onboarding_completed_at
                    else {}
                ),
                **({"renewal_date": c.renewal_date.isoformat()} if c.renewal_date else {}),
            },
            id=c.crm_id,
            updated_at=c.created_at,
        )
    for p in book.contacts:
        hubspot.add_contact(
            {
                "email": p.email,
                "firstname": p.first_name,
                "lastname": p.last_name,
                "jobtitle": p.title,
                "linkedin_followers": str(p.linkedin_followers),
                "speaks_at_events": "true" if p.speaks_at_events else "false",
            },
            company_id=ids[p.company_crm_id],
            id=p.crm_id,
            updated_at=p.created_at,
        )
    for d in book.deals:
        deal = hubspot.add_deal(
            {
                "dealname": d.name,
                "pipeline": d.pipeline_id,
                "dealstage": d.stage_id,
                "amount": str(d.amount),
                **dict(d.properties),
            },
            company_id=ids[d.company_crm_id],
            id=d.crm_id,
            updated_at=d.created_at,
        )
        hubspot.move_deal(deal, d.stage_id, d.stage_entered_at)


def load_team_and_signals(
    factory: sessionmaker[Session], book: Book, folder: Path, now: datetime
) -> None:
    """What an admin does once: the team file (roles, Slack ids) and the signals file."""
    team = folder / "team.csv"
    write_team_file(book, team)
    imported = import_team(factory, read_rows(team))
    assert not imported.rejected, imported.errors
    signals = folder / "signals.jsonl"
    write_signals(book.signals, signals)
    ingest_rows(factory, read_rows(signals), now)


def champions_submit(
    factory: sessionmaker[Session], program: Program, settings: Settings, now: datetime
) -> int:
    """The champions of the first asks submit one intro each with their code (a new prospect
    each), as the landing page would; returns how many were captured."""
    with factory() as session:
        rows = session.execute(
            select(Ask.id, ReferralLink.code, Account.crm_id)
            .join(ReferralLink, ReferralLink.id == Ask.referral_link_id)
            .join(Account, Account.id == Ask.account_id)
            .order_by(Ask.id)
            .limit(INTROS)
        ).all()
    inputs = []
    for ask_id, code, account in rows:
        domain = f"prospect-{account}.example"
        intake, errors = validate_intake(
            {"company": f"Prospect of {account}", "domain": domain, "email": f"cfo@{domain}"}
        )
        assert intake is not None, errors
        inputs.append(CaptureInput(ReferralChannel.LINK, intake, code=code, ask_id=ask_id))
    captured = capture_referrals(factory, program, settings, inputs, now)
    return sum(1 for c in captured if c.problem is None)


def deals_won_and_paid(factory: sessionmaker[Session], hubspot: FakeHubSpot, at: datetime) -> int:
    """Every pushed referral's deal is won at ``at`` and first paid the next day, in the
    portal (as a rep and finance would record it); the next sync reads it."""
    with factory() as session:
        deals = session.scalars(
            select(Referral.crm_deal_id).where(Referral.crm_deal_id.is_not(None))
        ).all()
    moved = 0
    for deal_id in deals:
        if hubspot.objects("deals")[deal_id].get("dealstage") == "closedwon":
            continue
        hubspot.move_deal(deal_id, "closedwon", at)
        paid = (at + timedelta(days=1)).isoformat()
        hubspot.set_properties("deals", deal_id, {"first_payment_date": paid}, at)
        moved += 1
    return moved


def approver_decides(factory: sessionmaker[Session], program: Program, now: datetime) -> int:
    """The approver approves every reward waiting for them."""
    with factory() as session:
        waiting = session.scalars(
            select(Reward.id).where(Reward.status == "awaiting_approval").order_by(Reward.id)
        ).all()
    approved = 0
    for reward_id in waiting:
        with contextlib.suppress(DecisionError):  # four eyes and the like: not this approver
            decide_reward(factory, program, reward_id, True, APPROVER_EMAIL, "fault suite", now)
            approved += 1
    return approved


def outbox_by_status(factory: sessionmaker[Session]) -> Counter[str]:
    with factory() as session:
        return Counter(str(s) for s in session.scalars(select(OutboxMessage.status)))


def pending(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return len(
            session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status.in_(list(PENDING)))
            ).all()
        )
