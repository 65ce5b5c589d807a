"""The outside world of the crash suite, in the test process: HubSpot, SendGrid and Slack as
local servers (the real SDKs talk to them), seeded from a generated book, and the people who
act on them between program days (reps moving deals in HubSpot, CSMs answering their asks,
champions submitting intros, the admin and finance).

The people follow the demo's story (``cli/demo.py``, ``tasks/simulate_people.py``) with one
change: every random choice is drawn from a generator seeded by the thing it is about (an
ask's account and moment, a deal's name, a reward's referral), never by a database id or a
row order. A killed transaction burns PostgreSQL sequence values and a retried push gives a
HubSpot object another id, so ids differ between the crashed run and the uninterrupted one;
the story must not.
"""

from __future__ import annotations

import csv
import zlib
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import session_factory, transaction
from db.models import (
    Account,
    Ask,
    Moment,
    OutboxMessage,
    Person,
    Referral,
    ReferralLink,
    Reward,
    TeamMember,
)
from db.repositories import outbox as outbox_repo
from db.repositories.asks import record_outcome
from domain.program import Program, load_program
from domain.referrals.intake import REFERRAL_COLUMNS, validate_intake
from domain.stages import ProgramStage, reached
from domain.statuses import (
    AskStatus,
    OutboxStatus,
    ReferralChannel,
    RewardStatus,
)
from integrations.ports import program_properties
from integrations.sandbox.portal import SANDBOX_PIPELINES
from integrations.wiring import build_adapters, build_deliverers
from simulation.book import Book
from simulation.pipeline import OpenDeal, moves_for_day
from simulation.referrals import intro_for
from simulation.signals_file import write_signals
from simulation.team_file import APPROVER_EMAIL, APPROVER_SLACK_ID, write_team_file
from tasks.ingest_signals import ingest_rows
from tasks.outbox_recovery import requeue_outbox
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.referrals.rows import import_referrals
from tasks.rewards.finance import record_tax_form
from tasks.signal_files import read_rows
from tasks.simulate_people import admin_reviews, finance_pays
from tasks.simulate_pipeline import sandbox_pipeline
from tasks.slack_actions import IntroForm, actor_for, decide_reward_in_chat, log_intro, record_ask
from tasks.sync_crm import sync_crm
from tasks.team import import_team
from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.slack_server import FakeSlack
from tests.faults.story import COMPLETE_TASK, DECLINE, INTRO, ODDS, program_text, rng_for


@dataclass
class World:
    """One run's world: its database, its vendors and the people acting on them."""

    url: str
    folder: Path
    book: Book
    seed: int
    clock: list[datetime] = field(default_factory=list)
    _stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        self.clock = [datetime.combine(self.book.start, time(0), UTC)]
        self.hubspot = self._stack.enter_context(FakeHubSpot(now=lambda: self.clock[0]))
        self.slack = self._stack.enter_context(FakeSlack(now=lambda: self.clock[0].timestamp()))
        self.sendgrid = self._stack.enter_context(FakeSendGrid())
        self.folder.mkdir(parents=True, exist_ok=True)
        self.program_file = self.folder / "program.yaml"
        self.program_file.write_text(program_text(), encoding="utf-8")
        self.program: Program = load_program(self.program_file)
        self.factory: sessionmaker[Session] = session_factory(self.url)
        self.pipeline = sandbox_pipeline(self.program.stage_map)

    def close(self) -> None:
        self._stack.close()

    # -- configuration: what the program's process sees -----------------------------------

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.url,
            "REFERRALS_DATA_DIR": str(self.folder),
            "REFERRALS_PROGRAM_FILE": str(self.program_file),
            "REFERRALS_SECRET_KEY": "crash-suite-secret",
            "HUBSPOT_ACCESS_TOKEN": self.hubspot.token,
            "HUBSPOT_API_BASE": self.hubspot.base_url,
            "HUBSPOT_CALLS_PER_10S": "100000",
            "HUBSPOT_SEARCHES_PER_SECOND": "10000",
            "SENDGRID_API_KEY": self.sendgrid.api_key,
            "SENDGRID_API_BASE": self.sendgrid.base_url,
            "SLACK_BOT_TOKEN": self.slack.token,
            "SLACK_API_BASE": self.slack.base_url,
        }

    def settings(self) -> Settings:
        return Settings(_env_file=None, **self.env())  # type: ignore[call-arg]

    # -- day zero: the portal, the team, the first sync, the signals ------------------------

    def set_up(self) -> None:
        settings = self.settings()
        adapters = build_adapters(settings, self.factory)
        milestones = list(self.program.stage_map.milestones.values())
        adapters.crm.setup(program_properties(milestones))  # `referrals crm setup`
        self._seed_hubspot()
        for member in self.book.team:
            if member.slack_user_id:
                self.slack.add_user(member.email, member.slack_user_id)
        self.slack.add_user(APPROVER_EMAIL, APPROVER_SLACK_ID)
        sync_crm(self.factory, adapters.crm, self.program, settings=settings)
        team_file = self.folder / "team.csv"
        write_team_file(self.book, team_file)
        imported = import_team(self.factory, read_rows(team_file))
        assert not imported.rejected, imported.rejected
        signals = self.folder / "signals.jsonl"
        write_signals(self.book.signals, signals)
        ingest_rows(self.factory, read_rows(signals), self.clock[0])

    def _seed_hubspot(self) -> None:
        fake, book = self.hubspot, self.book
        for pipeline in SANDBOX_PIPELINES[1:]:  # the sandbox portal's renewals pipeline too
            stages = [(s.id, s.label, s.closed, s.won) for s in pipeline.stages]
            fake.add_pipeline(pipeline.id, pipeline.label, stages)
        for m in book.team:
            first, _, last = m.name.partition(" ")
            fake.add_owner(m.email, first, last, teams=[m.team], id=m.crm_owner_id)
        for c in book.companies:
            properties = {
                "name": c.name,
                "domain": c.domain,
                "hubspot_owner_id": c.owner_crm_id,
                "segment": c.segment,
                "industry": c.industry,
                "lifecyclestage": c.lifecycle,
                "health_score": str(c.health_score),
            }
            if c.onboarding_completed_at:
                properties["onboarding_completed_at"] = c.onboarding_completed_at.isoformat()
            if c.renewal_date:
                properties["renewal_date"] = c.renewal_date.isoformat()
            fake.add_company(properties, id=c.crm_id, updated_at=c.created_at)
        for p in book.contacts:
            fake.add_contact(
                {
                    "email": p.email,
                    "firstname": p.first_name,
                    "lastname": p.last_name,
                    "jobtitle": p.title,
                    "linkedin_followers": str(p.linkedin_followers),
                    "speaks_at_events": "true" if p.speaks_at_events else "false",
                    "hs_email_optout": "true" if p.opted_out else "false",
                },
                company_id=p.company_crm_id,
                id=p.crm_id,
                updated_at=p.created_at,
            )
        for d in book.deals:
            deal = fake.add_deal(
                {
                    "dealname": d.name,
                    "pipeline": d.pipeline_id,
                    "dealstage": d.stage_id,
                    "amount": str(d.amount),
                    **dict(d.properties),
                },
                company_id=d.company_crm_id,
                id=d.crm_id,
                updated_at=d.created_at,
            )
            fake.move_deal(deal, d.stage_id, d.stage_entered_at)

    # -- the people's day, before the program's -------------------------------------------

    def people_act(self, day: datetime) -> Counter[str]:
        done: Counter[str] = Counter()
        done["deal moves"] += self._move_deals(day)
        intros = self._csms_act(day + timedelta(hours=17), done)
        self._champions_submit(intros, day + timedelta(hours=18), done)
        if day.weekday() == 0:
            done["rep intros"] += self._reps_import(day + timedelta(hours=12))
            done.update(admin_reviews(self.factory, self.program, day + timedelta(hours=14)))
        if day.weekday() == 4:
            done.update(
                finance_pays(self.factory, self.folder / "finance", day + timedelta(hours=16))
            )
        return done

    def _deal_key(self, crm_id: str, props: dict[str, str]) -> str:
        """Book deals keep the book's ids; deals the program pushed are known by name and
        creation time (their ids depend on the order HubSpot saw the writes in)."""
        if props.get("referral_program_id"):
            return f"pushed:{props.get('dealname')}:{props.get('createdate')}"
        return f"book:{crm_id}"

    def _move_deals(self, day: datetime) -> int:
        """Reps move the default pipeline's deals in HubSpot; won deals reach their
        milestones (billing sets the date properties); referred deals get an amount once
        they are opportunities."""
        milestones = self.program.stage_map.milestones
        final = milestones[self.pipeline.milestones[-1]] if self.pipeline.milestones else None
        moved = 0
        for crm_id, props in sorted(self.hubspot.objects("deals").items()):
            if props.get("pipeline") != SANDBOX_PIPELINES[0].id or (final and props.get(final)):
                continue
            reached_ = frozenset(m for m, p in milestones.items() if props.get(p))
            deal = OpenDeal(crm_id, props.get("dealstage", ""), reached_)
            key = self._deal_key(crm_id, props)
            for move in moves_for_day(
                [deal], day, self.pipeline, rng_for(self.seed, day, key), ODDS
            ):
                moved += 1
                if move.to_stage_id is not None:
                    self.hubspot.move_deal(crm_id, move.to_stage_id, move.at)
                    stage = self.pipeline.stage_map.get(move.to_stage_id)
                    if (
                        not props.get("amount")
                        and stage
                        and reached(stage, ProgramStage.OPPORTUNITY)
                    ):
                        amount = rng_for("price", self.seed, key).randrange(5_000, 60_001, 500)
                        self.hubspot.set_properties(
                            "deals", crm_id, {"amount": str(amount)}, move.at
                        )
                if move.milestone is not None:
                    value = {milestones[move.milestone]: move.at.date().isoformat()}
                    self.hubspot.set_properties("deals", crm_id, value, move.at)
        return moved

    def _open_asks(self, session: Session, ask_ids: Sequence[int] | None = None) -> list[tuple]:
        """Prompted asks with their stable key (account, trigger, window), in key order."""
        query = (
            select(Ask.id, Ask.crm_task_id, TeamMember.slack_user_id, Account.crm_id, Moment)
            .join(TeamMember, TeamMember.id == Ask.csm_id)
            .join(Account, Account.id == Ask.account_id)
            .join(Moment, Moment.id == Ask.moment_id)
        )
        if ask_ids is None:
            query = query.where(Ask.status == AskStatus.PROMPTED)
        else:
            query = query.where(Ask.id.in_(list(ask_ids)))
        rows = [
            (f"{crm_id}:{m.trigger}:{m.window_key}", ask_id, task_id, slack_id)
            for ask_id, task_id, slack_id, crm_id, m in session.execute(query).all()
        ]
        return sorted(rows)

    def _csms_act(self, at: datetime, done: Counter[str]) -> list[int]:
        with self.factory() as session:
            asks = self._open_asks(session)
        intros = []
        for key, ask_id, task_id, slack_id in asks:
            roll = rng_for("csm", self.seed, at.date(), key).random()
            if roll < INTRO:
                intros.append(ask_id)
            elif roll < INTRO + DECLINE:
                if slack_id:  # the digest's button, through its handler
                    actor = actor_for(self.factory, slack_id, None)
                    record_ask(self.factory, actor, ask_id, "declined", None, at)
                else:  # `referrals asks record`
                    with transaction(self.factory) as session:
                        record_outcome(session, ask_id, "declined", None, at)
                done["declined"] += 1
            elif task_id and roll < INTRO + DECLINE + COMPLETE_TASK:
                # The CSM ticks the task in HubSpot; the next sync marks the ask asked.
                done_props = {"hs_task_status": "COMPLETED"}
                self.hubspot.set_properties("tasks", task_id, done_props, at)
                done["tasks completed"] += 1
        return intros

    def _known(self, session: Session) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        referred = session.execute(
            select(Referral.referred_company_name, Referral.referred_domain).where(
                Referral.referred_domain.is_not(None)
            )
        ).all()
        in_pipeline = session.execute(
            select(Account.name, Account.domain).where(
                Account.lifecycle != "customer", Account.domain.is_not(None)
            )
        ).all()
        return sorted({tuple(r) for r in referred}), sorted({tuple(r) for r in in_pipeline})  # type: ignore[return-value]

    def _champions_submit(self, ask_ids: list[int], at: datetime, done: Counter[str]) -> None:
        """The landing page for most; every third (by the ask's key) logged by its CSM with
        the digest's Intro made form."""
        if not ask_ids:
            return
        settings = self.settings()
        with self.factory() as session:
            asks = self._open_asks(session, ask_ids)
            codes = dict(
                session.execute(
                    select(Ask.id, ReferralLink.code)
                    .join(ReferralLink, ReferralLink.id == Ask.referral_link_id)
                    .where(Ask.id.in_(ask_ids))
                ).all()
            )
            domains = dict(
                session.execute(
                    select(Ask.id, Account.domain)
                    .join(Account, Account.id == Ask.account_id)
                    .where(Ask.id.in_(ask_ids))
                ).all()
            )
            referred, in_pipeline = self._known(session)
        inputs = []
        for key, ask_id, _, slack_id in asks:
            rng = rng_for("intro", self.seed, at.date(), key)
            intro = intro_for(rng, domains.get(ask_id), referred, in_pipeline)
            intake, _ = validate_intake(intro.fields)
            if intake is None:
                continue
            if slack_id and zlib.crc32(key.encode()) % 3 == 0:
                form = IntroForm(
                    company=intake.company,
                    domain=intake.domain or "",
                    contact_name=intake.contact_name or "",
                    contact_email=intake.contact_email or "",
                    note=intake.note or "",
                    ask_id=ask_id,
                )
                actor = actor_for(self.factory, slack_id, None)
                log_intro(self.factory, self.program, settings, actor, form, at)
                done["Slack intros"] += 1
                continue
            if codes.get(ask_id) is None:
                continue
            inputs.append(
                CaptureInput(ReferralChannel.LINK, intake, code=codes[ask_id], ask_id=ask_id)
            )
            done["link intros"] += 1
        capture_referrals(self.factory, self.program, settings, inputs, at)

    def _reps_import(self, at: datetime) -> int:
        """A rep's weekly file of two intros clients made on calls (sales-assisted)."""
        rng = rng_for("reps", self.seed, at.date())
        with self.factory() as session:
            champions = sorted(
                session.execute(
                    select(Person.email, Account.domain)
                    .join(ReferralLink, ReferralLink.person_id == Person.id)
                    .join(Account, Account.id == Person.account_id)
                ).all()
            )
            referred, in_pipeline = self._known(session)
        if not champions:
            return 0
        path = self.folder / "imports" / f"rep-intros-{at.date().isoformat()}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=REFERRAL_COLUMNS)
            writer.writeheader()
            for _ in range(2):
                email, domain = rng.choice(champions)
                fields = intro_for(rng, domain, referred, in_pipeline).fields
                writer.writerow(
                    {
                        "referrer_type": "",
                        "referrer_email": email,
                        "company": fields["company"],
                        "domain": fields["domain"],
                        "contact_email": fields["email"],
                        "contact_name": fields["name"],
                        "role": fields["role"],
                        "channel": "sales_assisted",
                    }
                )
        imported = import_referrals(
            self.factory, self.program, self.settings(), read_rows(path), at
        )
        return imported.new

    def finance_decides(self, at: datetime) -> Counter[str]:
        """Finance records the tax forms rewards wait for and decides what waits for approval
        with the Approve / Reject buttons' handler, one roll per reward (by its referral)."""
        done: Counter[str] = Counter()
        with self.factory() as session:
            unfiled = sorted(
                e
                for e in session.scalars(
                    select(Reward.recipient_email).where(
                        Reward.status == RewardStatus.AWAITING_TAX_FORM
                    )
                ).unique()
                if e
            )
            waiting = sorted(
                (f"{stable_referral(session, r.referral_id)}:{r.rule_key}:{r.part_index}", r.id)
                for r in session.scalars(
                    select(Reward).where(Reward.status == RewardStatus.AWAITING_APPROVAL)
                )
            )
        for email in unfiled:
            record_tax_form(self.factory, email, APPROVER_EMAIL, at, on_file=True)
            done["tax forms recorded"] += 1
        approver = actor_for(self.factory, APPROVER_SLACK_ID, None)
        for key, reward_id in waiting:
            approve = rng_for("approve", self.seed, key).random() < 0.8
            reason = "checked against the deal" if approve else "agreement not signed yet"
            decide_reward_in_chat(
                self.factory, self.program, approver, reward_id, approve, reason, at
            )
            done["rewards approved" if approve else "rewards rejected"] += 1
        return done

    # -- a person resolving what the outbox could not ------------------------------------

    def delivered_email_keys(self) -> Counter[str]:
        """SendGrid's mails by ``outbox_key``: what its activity feed shows a person."""
        return Counter(m.custom_args.get("outbox_key", "?") for m in self.sendgrid.mails)

    def resolve_in_doubt(self, at: datetime) -> list[str]:
        """What `referrals outbox list --status in_doubt` shows, looked up in SendGrid's
        activity feed by the ``outbox_key`` custom arg: found, `outbox resolve --sent`; not
        found, `outbox requeue` (sent at the next dispatch). Returns the keys resolved."""
        with self.factory() as session:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.channel).where(
                    OutboxMessage.status == OutboxStatus.IN_DOUBT
                )
            ).all()
        if not rows:
            return []
        delivered = self.delivered_email_keys()
        found = [i for i, key, channel in rows if key in delivered]
        missing = [i for i, key, channel in rows if key not in delivered]
        if found:
            with transaction(self.factory) as session:
                outbox_repo.mark_sent_manually(session, found, at)
        if missing:
            deliverers = build_deliverers(build_adapters(self.settings(), self.factory))
            requeue_outbox(self.factory, deliverers, missing, at)
        return [f"{'resolved' if key in delivered else 'requeued'} {key}" for _, key, _ in rows]


def stable_referral(session: Session, referral_id: int | None) -> str:
    """A referral by its facts: channel, referrer, referred company and contact, when."""
    if referral_id is None:
        return "-"
    r = session.get(Referral, referral_id)
    if r is None:
        return f"?{referral_id}"
    referrer = r.referrer_email
    if referrer is None and r.referrer_person_id is not None:
        person = session.get(Person, r.referrer_person_id)
        referrer = person.email if person else None
    return "|".join(
        [
            str(r.channel),
            referrer or "",
            r.referred_company_name,
            r.referred_email or "",
            r.submitted_at.isoformat(),
        ]
    )


def day_at(start: date, offset: int) -> datetime:
    return datetime.combine(start + timedelta(days=offset), time(0), UTC)
