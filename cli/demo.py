"""The demo: the journey so far on a synthetic book of business, sandbox adapters only.

Later steps of the journey add themselves here; the demo drives their plain functions over
simulated days rather than starting a Prefect flow run per day (a flow run costs ~1 s).
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.settings import Settings, get_settings
from db import migrate
from db.engine import engine_for, session_factory, transaction
from db.models import (
    Account,
    Ask,
    Deal,
    Moment,
    OutboxMessage,
    Person,
    Referral,
    Reward,
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
    StageEvent,
    TeamMember,
)
from db.repositories.asks import record_outcome
from db.repositories.crm_issues import open_issues, quarantine_count
from db.repositories.outbox import counts_by_status
from db.repositories.signals import counts_by_kind
from domain.program import Program, load_program, preset_text
from domain.stages import ProgramStage
from domain.statuses import AskStatus, OutboxChannel, OutboxStatus, RewardStatus
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
from simulation.book import generate_book
from simulation.csm_behaviour import actions_for_day
from simulation.pipeline import StageOdds, odds_from
from simulation.signals_file import write_signals
from simulation.team_file import APPROVER_EMAIL, APPROVER_SLACK_ID, write_team_file
from tasks.detect_moments import detect_moments
from tasks.ingest_signals import ingest_rows, read_rows
from tasks.load_book import load_book
from tasks.outbox_dispatch import dispatch_outbox
from tasks.prompt_csms import prompt_csms
from tasks.referrals.track import track_referrals
from tasks.rewards.finance import record_tax_form
from tasks.rewards.release import release_rewards
from tasks.simulate_pipeline import simulate_pipeline_day
from tasks.simulate_referrals import champions_submit, rep_tags_a_deal, reps_import
from tasks.slack_actions import actor_for, decide_reward_in_chat, record_ask
from tasks.sync_crm import SyncReport, sync_crm
from tasks.team import import_team


def _say(text: str) -> None:
    typer.echo(text)


def demo_settings(settings: Settings) -> Settings:
    """The demo's own world: a SQLite file, outbox and chat log under ``<data dir>/demo``."""
    folder = settings.data_dir / "demo"
    return settings.model_copy(
        update={
            "data_dir": folder,
            "database_url": f"sqlite:///{(folder / 'referrals.db').as_posix()}",
        }
    )


def run_demo(seed: int, accounts: int, days: int) -> None:
    """Every run starts a fresh demo world, so the same seed tells the same story."""
    base = get_settings()
    settings = demo_settings(base)
    engine_for(settings.resolved_database_url).dispose()  # no pooled handle to the old file
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    settings.data_dir.mkdir(parents=True)
    if base.database_url:
        _say("   (the demo keeps to its own SQLite world; DATABASE_URL is left untouched)")
    try:
        odds = odds_from(settings.sandbox_stage_odds)
    except (ValueError, KeyError) as error:
        raise typer.BadParameter(f"REFERRALS_SANDBOX_STAGE_ODDS: {error}") from None
    url = settings.resolved_database_url
    _say(f"1. migrate  {url.split('@')[-1]}")
    migrate.upgrade(url)
    factory = session_factory(url)

    program_file = base.program_file
    if not program_file.exists():
        program_file = settings.data_dir / "program.yaml"
        program_file.parent.mkdir(parents=True, exist_ok=True)
        program_file.write_text(preset_text("saas"), encoding="utf-8")
    program = load_program(program_file)
    _say(
        f"2. program  {program_file} ({program.name}, target {program.target_pipeline_share:.0%}"
        " of pipeline from referrals)"
    )

    book = generate_book(seed=seed, accounts=accounts, days=days)
    load_book(factory, book)
    _say(
        f"3. book     seed {seed}: {len(book.companies)} companies, {len(book.contacts)} "
        f"contacts, {len(book.deals)} deals, {len(book.team)} CRM owners -> sandbox CRM"
    )
    crm = SandboxCrm(factory)
    first = sync_crm(factory, crm, program)
    team_file = settings.data_dir / "team.csv"
    write_team_file(book, team_file)
    team = import_team(factory, read_rows(team_file))
    _say(
        f"   sync     {_describe(first)}\n"
        f"   team     {team_file}: roles for {team.created + team.updated} owners "
        "(`referrals team import`, as an admin would)"
    )

    signals_file = settings.data_dir / "signals.jsonl"
    signals_file.parent.mkdir(parents=True, exist_ok=True)
    write_signals(book.signals, signals_file)
    now = datetime.combine(book.start, time(9), UTC)
    first = ingest_rows(factory, read_rows(signals_file), now)
    again = ingest_rows(factory, read_rows(signals_file), now)
    _say(
        f"4. signals  {signals_file}: new {first.new}, unchanged {first.unchanged}, "
        f"rejected {len(first.rejected)}; re-import: new {again.new}, "
        f"unchanged {again.unchanged}"
    )

    _say(
        f"5. days     {days} simulated days: deals move, CSMs act; sync-crm, detect-moments, "
        "prompt-csms, outbox"
    )
    simulate_days(factory, crm, program, book.start, days, seed, odds, settings)

    with factory() as session:
        table_counts = {
            "team members": session.scalar(select(func.count()).select_from(TeamMember)),
            "sandbox companies": session.scalar(select(func.count()).select_from(SandboxCompany)),
            "sandbox contacts": session.scalar(select(func.count()).select_from(SandboxContact)),
            "sandbox deals": session.scalar(select(func.count()).select_from(SandboxDeal)),
            "accounts": session.scalar(select(func.count()).select_from(Account)),
            "people": session.scalar(select(func.count()).select_from(Person)),
            "deals": session.scalar(select(func.count()).select_from(Deal)),
            "stage events": session.scalar(select(func.count()).select_from(StageEvent)),
            "moments": session.scalar(select(func.count()).select_from(Moment)),
        }
        asks_by_status = dict(
            session.execute(select(Ask.status, func.count()).group_by(Ask.status)).all()
        )
        outbox = counts_by_status(session)
        by_kind = counts_by_kind(session)
        unmapped = session.scalar(
            select(func.count()).select_from(Deal).where(Deal.program_stage.is_(None))
        )
        causes = [issue.message for issue in open_issues(session)]
        held = quarantine_count(session)
        referrals = _referral_counts(session)
        rewards = _reward_totals(session)
        early = session.scalar(
            select(func.count())
            .select_from(Reward)
            .where(Reward.released_at < Reward.release_after)
        )
    _say("6. counts")
    for name, count in table_counts.items():
        _say(f"   {name:<18} {count}")
    _say(
        "   asks               "
        + ", ".join(f"{status} {count}" for status, count in sorted(asks_by_status.items()))
    )
    _say("   outbox             " + ", ".join(f"{k} {v}" for k, v in sorted(outbox.items())))
    _say(f"   deals kept with no program stage {unmapped}, quarantined records {held}")
    for cause in causes:
        _say(f"     {cause}")
    for name, counted in referrals.items():
        _say(f"   {name:<18} " + (", ".join(f"{k} {v}" for k, v in counted) or "none"))
    _say(
        "   rewards            "
        + (
            ", ".join(
                f"{status} {count} ({program.currency} {total:,.2f})"
                for status, count, total in rewards
            )
            or "none"
        )
        + f"; released before their window ended: {early}"
    )
    _say(f"   signals            {sum(by_kind.values())}")
    for kind, count in sorted(by_kind.items(), key=lambda item: -item[1]):
        _say(f"     {kind:<22} {count}")
    where_to_look(settings)


def simulate_days(  # type: ignore[no-untyped-def]
    factory,
    crm: SandboxCrm,
    program: Program,
    start: date,
    days: int,
    seed: int,
    odds: Mapping[ProgramStage, StageOdds],
    settings: Settings,
) -> None:
    """Each simulated day, in order: the sandbox CRM moves deals and CSMs act on their asks;
    then the program's day: sync-crm, detect-moments, prompt-csms (weekdays), outbox."""
    chat = ChatLogNotifier(settings.chat_log_file)
    deliverers = {
        OutboxChannel.CHAT: ChatDeliverer(chat),
        OutboxChannel.CRM: CrmDeliverer(crm),
        OutboxChannel.EMAIL: EmailDeliverer(
            EmailFolderSender(settings.email_outbox_dir, settings.email_from)
        ),
        OutboxChannel.FULFILMENT: FulfilmentDeliverer(FinanceQueue()),
    }
    period: Counter[str] = Counter()
    for offset in range(days):
        day = datetime.combine(start + timedelta(days=offset), time(0), UTC)
        period["moves"] += simulate_pipeline_day(factory, day, program.stage_map, seed, odds)
        acted, intros = simulate_csms(factory, crm, day + timedelta(hours=17), seed)
        period.update(acted)
        period.update(
            champions_submit(factory, program, settings, intros, day + timedelta(hours=18), seed)
        )
        if day.weekday() == 0:
            period["rep intros"] += reps_import(
                factory, program, settings, settings.data_dir, day + timedelta(hours=12), seed
            )
        if day.day == 1:
            period["rep-tagged deals"] += rep_tags_a_deal(factory, day + timedelta(hours=11), seed)
        report = sync_crm(factory, crm, program, settings=settings)
        deals = report.by_type["deals"]
        period.update(
            {
                **deals.extra,
                "asked via CRM task": report.by_type["tasks"].extra["asks_marked_asked"],
            }
        )
        moments = detect_moments(factory, program, day + timedelta(hours=8))
        period.update({"moments": moments.moments_detected, "asks": moments.asks_created})
        if day.weekday() < 5:
            prompts = prompt_csms(factory, program, chat, deliverers, day + timedelta(hours=9))
            period.update(
                {
                    "digests": prompts.digests,
                    "crm tasks": prompts.crm_tasks,
                    "expired": prompts.expired,
                    "re-surfaced": prompts.resurfaced,
                }
            )
        tracked = track_referrals(
            factory, program, settings, deliverers, day + timedelta(hours=10)
        ).counts
        period.update({k: v for k, v in tracked.items() if k.startswith("decided")})
        period["feedback emails"] += tracked["feedback emails enqueued"]
        rewarded = release_rewards(factory, program, settings, day + timedelta(hours=10)).counts
        period.update({k: v for k, v in rewarded.items() if k.startswith("rewards ")})
        period.update(finance_decides(factory, program, day + timedelta(hours=15), seed))
        dispatch_outbox(factory, deliverers, day + timedelta(hours=10))
        if (offset + 1) % 30 == 0 or offset + 1 == days:
            _say(
                f"   day {offset + 1:<4} {day.date()}: deals: {period['moves']} stage moves, "
                f"{period['closed_lost']} lost, {period['reopened']} reopened | moments "
                f"{period['moments']}, asks {period['asks']}, digests {period['digests']}, "
                f"CRM tasks {period['crm tasks']} | asked {period['asked via CRM task']}, "
                f"intros {period['intro']}, declined {period['declined']} (Slack buttons "
                f"{period['answered in Slack']}), re-surfaced "
                f"{period['re-surfaced']}, expired {period['expired']}\n"
                f"            referrals: {_intros(period)} | decided: {_decided(period)} | "
                f"feedback emails {period['feedback emails']}\n"
                f"            rewards: {_rewarded(period)}"
            )
            period.clear()


def finance_decides(  # type: ignore[no-untyped-def]
    factory, program: Program, at: datetime, seed: int
) -> Counter[str]:
    """Finance's approver decides what waits for approval with the Approve / Reject buttons
    (through their handler) and records the tax forms rewards wait for (the function behind
    `referrals referrers tax-form`); the next release-rewards releases them."""
    rng = random.Random(f"approve:{seed}:{at.date().isoformat()}")
    with factory() as session:
        waiting = list(
            session.scalars(
                select(Reward.id).where(Reward.status == RewardStatus.AWAITING_APPROVAL)
            )
        )
        unfiled = set(
            session.scalars(
                select(Reward.recipient_email).where(
                    Reward.status == RewardStatus.AWAITING_TAX_FORM
                )
            )
        )
    done: Counter[str] = Counter()
    for email in sorted(e for e in unfiled if e):  # finance asks for the form; it comes back
        record_tax_form(factory, email, APPROVER_EMAIL, at, on_file=True)
        done["tax forms recorded"] += 1
    approver = actor_for(factory, APPROVER_SLACK_ID, None)
    for reward_id in waiting:
        approve = rng.random() < 0.8
        reason = "checked against the deal" if approve else "partner agreement not signed yet"
        decide_reward_in_chat(factory, program, approver, reward_id, approve, reason, at)
        done["rewards approved by finance" if approve else "rewards rejected by finance"] += 1
    return done


def simulate_csms(  # type: ignore[no-untyped-def]
    factory, crm: SandboxCrm, at: datetime, seed: int
) -> tuple[Counter[str], list[int]]:
    """CSMs tick CRM tasks, answer asks with their digest's buttons (through the handlers
    the buttons call; the CLI for a CSM without Slack), and the asks whose client makes an
    intro (the champion then submits it on the landing page). Returns counts and those
    asks."""
    rng = random.Random(f"csm:{seed}:{at.date().isoformat()}")
    with factory() as session:
        open_asks = session.execute(
            select(Ask.id, Ask.crm_task_id).where(Ask.status == AskStatus.PROMPTED)
        ).all()
        on_slack = dict(
            session.execute(
                select(Ask.id, TeamMember.slack_user_id)
                .join(TeamMember, TeamMember.id == Ask.csm_id)
                .where(Ask.status == AskStatus.PROMPTED, TeamMember.slack_user_id.is_not(None))
            ).all()
        )
    tasks = dict(open_asks)
    done: Counter[str] = Counter()
    intros: list[int] = []
    crm.now = lambda: at
    for action in actions_for_day([(i, t is not None) for i, t in open_asks], rng):
        if action.action == "complete_task":
            crm.complete_task(str(tasks[action.ask_id]))
        elif action.action == "intro":
            intros.append(action.ask_id)
            done["intro"] += 1
        elif action.ask_id in on_slack:  # the digest's button, through its handler
            actor = actor_for(factory, on_slack[action.ask_id], None)
            record_ask(factory, actor, action.ask_id, action.action, None, at)
            done[action.action] += 1
            done["answered in Slack"] += 1
        else:  # a CSM without Slack answers with `referrals asks record`
            with transaction(factory) as session:
                record_outcome(session, action.ask_id, action.action, None, at)
            done[action.action] += 1
    return done, intros


def _intros(period: Counter[str]) -> str:
    link = sum(v for k, v in period.items() if k.startswith("link intros"))
    slack = sum(v for k, v in period.items() if k.startswith("Slack intros"))
    return (
        f"{link} by link, {slack} logged in Slack, {period['rep intros']} from reps' files, "
        f"{period['rep-tagged deals']} rep-tagged deals"
    )


def _decided(period: Counter[str]) -> str:
    return (
        ", ".join(
            f"{k.removeprefix('decided: ')} {v}"
            for k, v in sorted(period.items())
            if k.startswith("decided")
        )
        or "none"
    )


def _rewarded(period: Counter[str]) -> str:
    steps = ("accrued", "held", "awaiting_approval", "released", "voided")
    return ", ".join(f"{step} {period[f'rewards {step}']}" for step in steps) + (
        f" | finance approved {period['rewards approved by finance']}, rejected "
        f"{period['rewards rejected by finance']}, "
        f"tax forms recorded {period['tax forms recorded']}"
    )


def _reward_totals(session: Session) -> list[tuple[str, int, Decimal]]:  # type: ignore[misc]
    """Rewards by status with their count and total, in the journey's order."""
    rows = dict(
        (status, (count, total))
        for status, count, total in session.execute(
            select(Reward.status, func.count(), func.sum(Reward.amount)).group_by(Reward.status)
        ).all()
    )
    always = {"pending", "holding", "awaiting_approval", "released", "voided"}
    return [
        (str(status), *(rows.get(status) or (0, 0)))
        for status in RewardStatus
        if status in rows or status in always
    ]


def _referral_counts(session: Session) -> dict[str, list[tuple[str, int]]]:
    """Referrals by share path and decision, every reason given, and the emails written to
    referrers by template."""
    reasons: Counter[str] = Counter()
    for codes in session.scalars(select(Referral.reason_codes)):
        reasons.update(codes)

    def grouped(column: Any, *where: Any) -> list[tuple[str, int]]:
        query = select(column, func.count()).where(*where).group_by(column)
        return sorted(((str(k), v) for k, v in session.execute(query).all()), key=lambda r: -r[1])

    return {
        "referrals by path": grouped(Referral.channel),
        "decisions": grouped(Referral.eligibility),
        "reasons": reasons.most_common(),
        "referrer emails": grouped(
            OutboxMessage.template,
            OutboxMessage.channel == OutboxChannel.EMAIL,
            OutboxMessage.subject_type == "referral",
            OutboxMessage.status != OutboxStatus.SUPPRESSED,
        ),
    }


def _describe(report: SyncReport) -> str:
    return ", ".join(f"{row['object']} {row['created']} new" for row in report.rows()) + (
        f"; API calls {sum(report.api_calls.values())}"
    )


def where_to_look(settings: Settings) -> None:
    _say("7. look at it")
    cli = f"REFERRALS_DATA_DIR={settings.data_dir} .venv/bin/referrals"
    _say(f"   Slack digests (sandbox): {settings.chat_log_file}")
    _say(f"   CRM tasks and deals:     {settings.data_dir / 'referrals.db'} (sandbox CRM tables)")
    _say(f"   asks:    {cli} asks list    (then: asks record ID asked|declined|snoozed|intro)")
    _say(f"   outbox:  {cli} outbox list")
    _say(f"   team:    {cli} team list      CRM issues: {cli} crm issues")
    _say(f"   referrals: {cli} referrals list   (then: referrals show ID; review list)")
    _say(f"   rewards:   {cli} rewards list --json   (then: rewards show ID for its ledger)")
    _say(f"   emails to referrers (sandbox): {settings.email_outbox_dir}")
