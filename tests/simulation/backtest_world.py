"""A history for backtests, made the way the demo makes one: a synthetic book in the sandbox
CRM, then simulated days in which deals move, CSMs answer asks, champions and reps submit
intros, and the program's day runs (sync-crm, detect-moments, prompt-csms, track-referrals,
release-rewards, outbox); finance decides approvals and tax forms, an admin decides the
referrals in review. Its own copy of the demo's day (the demo is free to change its own)."""

from __future__ import annotations

import random
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import session_factory, transaction
from db.models import Ask, Referral, Reward
from db.repositories.asks import record_outcome
from domain.program import Program, load_program, preset_text
from domain.statuses import AskStatus, Eligibility, OutboxChannel, RewardStatus
from integrations.deliverers import ChatDeliverer, CrmDeliverer, EmailDeliverer, FulfilmentDeliverer
from integrations.finance_queue import FinanceQueue
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.email_folder import EmailFolderSender
from simulation.book import generate_book
from simulation.csm_behaviour import actions_for_day
from simulation.signals_file import write_signals
from simulation.team_file import APPROVER_EMAIL, write_team_file
from tasks.detect_moments import detect_moments
from tasks.ingest_signals import ingest_rows, read_rows
from tasks.load_book import load_book
from tasks.outbox_dispatch import dispatch_outbox
from tasks.prompt_csms import prompt_csms
from tasks.referrals.review import decide_review
from tasks.referrals.track import track_referrals
from tasks.rewards.decide import DecisionError, decide_reward
from tasks.rewards.finance import record_tax_form
from tasks.rewards.release import release_rewards
from tasks.simulate_pipeline import simulate_pipeline_day
from tasks.simulate_referrals import champions_submit, rep_tags_a_deal, reps_import
from tasks.sync_crm import sync_crm
from tasks.team import import_team

START = date(2026, 1, 5)


def program_file(folder: Path) -> Path:
    """The saas preset with every client reward above 400 waiting for an approver, so the
    history holds approvals and rejections too."""
    text = preset_text("saas").replace(
        "approval: { above_amount: 1000, referrer_types: [] }",
        "approval: { above_amount: 400, referrer_types: [] }",
    )
    path = folder / "program.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def build_history(url: str, folder: Path, seed: int, accounts: int, days: int) -> Path:
    """Fill the migrated database at ``url``; returns the program file it ran with."""
    path = program_file(folder)
    program = load_program(path)
    settings = Settings(data_dir=folder / "data", database_url=url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    factory = session_factory(url)
    book = generate_book(seed=seed, accounts=accounts, days=days, start=START)
    load_book(factory, book)
    crm = SandboxCrm(factory)
    sync_crm(factory, crm, program, settings=settings)
    team_file = settings.data_dir / "team.csv"
    write_team_file(book, team_file)
    import_team(factory, read_rows(team_file))
    signals = settings.data_dir / "signals.jsonl"
    write_signals(book.signals, signals)
    ingest_rows(factory, read_rows(signals), datetime.combine(START, time(9), UTC))
    chat = ChatLogNotifier(settings.chat_log_file)
    deliverers = {
        OutboxChannel.CHAT: ChatDeliverer(chat),
        OutboxChannel.CRM: CrmDeliverer(crm),
        OutboxChannel.EMAIL: EmailDeliverer(
            EmailFolderSender(settings.email_outbox_dir, settings.email_from)
        ),
        OutboxChannel.FULFILMENT: FulfilmentDeliverer(FinanceQueue()),
    }
    for offset in range(days):
        day = datetime.combine(START + timedelta(days=offset), time(0), UTC)
        simulate_pipeline_day(factory, day, program.stage_map, seed)
        intros = _csms(factory, crm, day + timedelta(hours=17), seed)
        champions_submit(factory, program, settings, intros, day + timedelta(hours=18), seed)
        if day.weekday() == 0:
            reps_import(
                factory, program, settings, settings.data_dir, day + timedelta(hours=12), seed
            )
        if day.day == 1:
            rep_tags_a_deal(factory, day + timedelta(hours=11), seed)
        sync_crm(factory, crm, program, settings=settings)
        detect_moments(factory, program, day + timedelta(hours=8))
        if day.weekday() < 5:
            prompt_csms(factory, program, chat, deliverers, day + timedelta(hours=9))
        track_referrals(factory, program, settings, deliverers, day + timedelta(hours=10))
        release_rewards(factory, program, settings, day + timedelta(hours=10))
        _people_decide(factory, program, day + timedelta(hours=15), seed)
        dispatch_outbox(factory, deliverers, day + timedelta(hours=10))
    return path


def _csms(factory: sessionmaker[Session], crm: SandboxCrm, at: datetime, seed: int) -> list[int]:
    rng = random.Random(f"csm:{seed}:{at.date().isoformat()}")
    with factory() as session:
        open_asks = session.execute(
            select(Ask.id, Ask.crm_task_id).where(Ask.status == AskStatus.PROMPTED)
        ).all()
    tasks = dict(open_asks)
    intros = []
    crm.now = lambda: at
    for action in actions_for_day([(i, t is not None) for i, t in open_asks], rng):
        if action.action == "complete_task":
            crm.complete_task(str(tasks[action.ask_id]))
        elif action.action == "intro":
            intros.append(action.ask_id)
        else:
            with transaction(factory) as session:
                record_outcome(session, action.ask_id, action.action, None, at)
    return intros


def _people_decide(
    factory: sessionmaker[Session], program: Program, at: datetime, seed: int
) -> None:
    """Finance approves four rewards in five and records the tax forms rewards wait for; an
    admin approves every other referral waiting for review and rejects the rest."""
    rng = random.Random(f"approve:{seed}:{at.date().isoformat()}")
    with factory() as session:
        waiting = list(
            session.scalars(
                select(Reward.id)
                .where(Reward.status == RewardStatus.AWAITING_APPROVAL)
                .order_by(Reward.id)
            )
        )
        unfiled = set(
            session.scalars(
                select(Reward.recipient_email).where(
                    Reward.status == RewardStatus.AWAITING_TAX_FORM
                )
            )
        )
        in_review = list(
            session.scalars(
                select(Referral.id)
                .where(Referral.eligibility == Eligibility.REVIEW)
                .order_by(Referral.id)
            )
        )
    for email in sorted(e for e in unfiled if e):
        record_tax_form(factory, email, APPROVER_EMAIL, at, on_file=True)
    for reward_id in waiting:
        approve = rng.random() < 0.8
        with suppress(DecisionError):  # four eyes: the approver refuses their own
            decide_reward(factory, program, reward_id, approve, APPROVER_EMAIL, "checked", at)
    for referral_id in in_review:
        decide_review(
            factory, program, referral_id, referral_id % 2 == 0, APPROVER_EMAIL, "looked", at
        )
