"""The demo: a whole program on a synthetic book of business, sandbox adapters only.

Every simulated day runs the flows' plain functions in one process rather than a Prefect flow
run per flow per day (a flow run costs ~1 s); the deployments are for real days.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from cli.demo_output import describe_sync, period_lines, print_counts, where_to_look
from cli.output import fail
from core.settings import Settings, get_settings
from db import migrate
from db.engine import engine_for, normalise_url, session_factory
from domain.program import Program, load_program, preset_text
from domain.report.markdown import headline
from domain.stages import ProgramStage
from domain.statuses import OutboxChannel
from integrations.deliverers import (
    ChatDeliverer,
    CrmDeliverer,
    EmailDeliverer,
    FulfilmentDeliverer,
)
from integrations.finance_queue import FinanceQueue
from integrations.ports import Deliverer
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.email_folder import EmailFolderSender
from simulation.book import generate_book
from simulation.pipeline import StageOdds, odds_from
from simulation.signals_file import write_signals
from simulation.team_file import write_team_file
from tasks.detect_moments import detect_moments
from tasks.ingest_signals import ingest_rows, read_rows
from tasks.load_book import load_book
from tasks.outbox_dispatch import dispatch_outbox
from tasks.prompt_csms import prompt_csms
from tasks.recognition import post_recognition
from tasks.referrals.track import track_referrals
from tasks.report import build_report, post_report, write_report
from tasks.report_html import channels_chart, funnel_chart, share_chart
from tasks.rewards.release import release_rewards
from tasks.simulate_people import (
    admin_reviews,
    client_cancels,
    finance_decides,
    finance_pays,
    simulate_csms,
)
from tasks.simulate_pipeline import simulate_pipeline_day
from tasks.simulate_referrals import champions_submit, rep_tags_a_deal, reps_import
from tasks.sync_crm import sync_crm
from tasks.team import import_team

MARKER = ".referrals-demo"  # the demo only ever empties a folder it made
DEMO_SCHEMA = "referrals_demo"  # on PostgreSQL the demo keeps to a schema of its own
REPORT_CHANNEL = "C0PROGRAM"  # the sandbox Slack channel the report is posted to
PERIOD_DAYS = 30


def _say(text: str) -> None:
    typer.echo(text)


@dataclass(frozen=True)
class World:
    settings: Settings  # data_dir is the output folder; database_url the demo's database
    env: str  # what to put before `referrals ...` to look at this world afterwards


def demo_world(base: Settings, out: Path | None) -> World:
    """The demo's own world: a SQLite file in the output folder, or with a PostgreSQL
    DATABASE_URL, the schema `referrals_demo` of that database (nothing else is touched)."""
    folder = out or base.data_dir / "demo"
    if base.database_url and make_url(normalise_url(base.database_url)).get_backend_name() == (
        "postgresql"
    ):
        url = make_url(normalise_url(base.database_url))
        url = url.update_query_dict({"options": f"-csearch_path={DEMO_SCHEMA}"})
        database_url = url.render_as_string(hide_password=False)
        env = f"REFERRALS_DATA_DIR={folder} DATABASE_URL='{url.render_as_string()}'"
        if url.password:
            env += "  (put your password back in place of ***)"
    else:
        database_url = f"sqlite:///{(folder / 'referrals.db').as_posix()}"
        env = f"REFERRALS_DATA_DIR={folder} DATABASE_URL="
    settings = base.model_copy(update={"data_dir": folder, "database_url": database_url})
    return World(settings, env)


def reset_world(base: Settings, world: World, chosen: bool) -> None:
    """Start from nothing so the same seed tells the same story; refuse to empty a folder
    someone chose that the demo did not make (`<data dir>/demo` is the demo's own)."""
    folder = world.settings.data_dir
    made = not chosen or (folder / MARKER).exists()
    if folder.exists() and any(folder.iterdir()) and not made:
        raise fail(
            f"problem: --out {folder} is not empty and was not made by the demo; "
            "choose a new folder",
            2,
        )
    # engine_for caches engines per URL: a pooled connection would still see the old file
    engine_for(world.settings.resolved_database_url).dispose()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by `referrals demo`; it empties this folder\n")
    if world.settings.database_url and world.settings.database_url.startswith("postgresql"):
        assert base.database_url is not None
        engine = engine_for(normalise_url(base.database_url))
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {DEMO_SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {DEMO_SCHEMA}"))
        engine.dispose()


def run_demo(seed: int, accounts: int, days: int, out: Path | None = None) -> None:
    base = get_settings()
    world = demo_world(base, out)
    settings = world.settings
    try:
        odds = odds_from(settings.sandbox_stage_odds)
    except (ValueError, KeyError) as error:
        raise typer.BadParameter(f"REFERRALS_SANDBOX_STAGE_ODDS: {error}") from None
    reset_world(base, world, chosen=out is not None)
    url = settings.resolved_database_url
    _say(f"1. world    {settings.data_dir} (database {url.split('@')[-1].split('?')[0]})")
    migrate.upgrade(url)
    factory = session_factory(url)

    program_file = settings.data_dir / "program.yaml"
    if base.program_file.exists():
        shutil.copyfile(base.program_file, program_file)
    else:
        program_file.write_text(preset_text("saas"), encoding="utf-8")
    program = load_program(program_file)
    _say(
        f"2. program  {program.name}: {len(program.triggers.enabled_signal_kinds())} "
        f"kinds of moment, {len(program.rewards)} reward rules, target "
        f"{program.target_pipeline_share:.0%} of new pipeline from referrals"
    )

    book = generate_book(seed=seed, accounts=accounts, days=days)
    load_book(factory, book)
    crm = SandboxCrm(factory)
    first = sync_crm(factory, crm, program)
    team_file = settings.data_dir / "team.csv"
    write_team_file(book, team_file)
    team = import_team(factory, read_rows(team_file))
    _say(
        f"3. book     seed {seed}: {len(book.companies)} companies, {len(book.contacts)} "
        f"contacts, {len(book.deals)} deals in the sandbox CRM\n"
        f"   sync     {describe_sync(first)}\n"
        f"   team     roles for {team.created + team.updated} people from team.csv "
        "(`referrals team import`, as an admin would)"
    )
    signals_file = settings.data_dir / "signals.jsonl"
    write_signals(book.signals, signals_file)
    now = datetime.combine(book.start, time(9), UTC)
    signals = ingest_rows(factory, read_rows(signals_file), now)
    _say(
        f"4. signals  {signals.new} product and survey signals over {days} days "
        f"(rejected {len(signals.rejected)})"
    )

    _say(f"5. days     {book.start} to {book.end - timedelta(days=1)}, the program's every day")
    simulate_days(factory, crm, program, book.start, days, seed, odds, settings)

    _say("6. counts")
    print_counts(factory, program, _say)
    end = book.end - timedelta(days=1)
    report = finish_report(factory, program, settings, book.start, end)
    _say("7. look at it")
    where_to_look(settings, settings.data_dir, _say, world.env, book.start)
    _say(f"\nProgram report {book.start} to {end}: {headline(report)}")


def finish_report(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    start: date,
    end: date,
) -> dict[str, object]:
    """The report over the whole period, as program-report writes it, plus its charts as
    files, and its post in the sandbox Slack channel."""
    report = build_report(factory, program, start, end, names=True)
    write_report(report, program, settings.data_dir / "reports")
    charts = settings.data_dir / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    for name, chart in (
        ("funnel", funnel_chart),
        ("pipeline-share", share_chart),
        ("referrals-vs-other-channels", channels_chart),
    ):
        (charts / f"{name}.svg").write_text(str(chart(report)), encoding="utf-8")
    at = datetime.combine(end, time(18), UTC)
    post_report(factory, report, program, REPORT_CHANNEL, at)
    post_recognition(factory, program, REPORT_CHANNEL, at)  # the last whole month's thanks
    dispatch_outbox(factory, _deliverers(settings, SandboxCrm(factory)), at)
    return report


def _deliverers(settings: Settings, crm: SandboxCrm) -> dict[OutboxChannel, Deliverer]:
    return {
        OutboxChannel.CHAT: ChatDeliverer(ChatLogNotifier(settings.chat_log_file)),
        OutboxChannel.CRM: CrmDeliverer(crm),
        OutboxChannel.EMAIL: EmailDeliverer(
            EmailFolderSender(settings.email_outbox_dir, settings.email_from)
        ),
        OutboxChannel.FULFILMENT: FulfilmentDeliverer(FinanceQueue()),
    }


@contextmanager
def progress_bar(days: int) -> Iterator[tuple[Callable[[], None], Callable[[str], None]]]:
    """A bar over the simulated days on a terminal; elsewhere (CI, a pipe) only the period
    lines, so the output stays the same from run to run."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        yield (lambda: None), _say
        return
    columns = (TextColumn("   simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("days"))
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("days", total=days)
        yield (
            lambda: progress.advance(bar),
            lambda line: progress.console.print(line, markup=False),
        )


def simulate_days(
    factory: sessionmaker[Session],
    crm: SandboxCrm,
    program: Program,
    start: date,
    days: int,
    seed: int,
    odds: Mapping[ProgramStage, StageOdds],
    settings: Settings,
) -> None:
    """Each simulated day, in order: the sandbox CRM moves deals, people act (CSMs, the
    champions they asked, reps, the admin, finance); then the program's day: sync-crm,
    detect-moments, prompt-csms (weekdays), track-referrals, release-rewards, outbox."""
    chat = ChatLogNotifier(settings.chat_log_file)
    deliverers = _deliverers(settings, crm)
    period: Counter[str] = Counter()
    cancelled: set[int] = set()
    with progress_bar(days) as (advance, say):
        for offset in range(days):
            day = datetime.combine(start + timedelta(days=offset), time(0), UTC)
            period.update(_people_act(factory, crm, program, settings, odds, day, seed, cancelled))
            period.update(_program_day(factory, crm, program, settings, deliverers, chat, day))
            period.update(finance_decides(factory, program, day + timedelta(hours=15), seed))
            advance()
            if (offset + 1) % PERIOD_DAYS == 0 or offset + 1 == days:
                for line in period_lines(offset + 1, day.date().isoformat(), period):
                    say(line)
                period.clear()


def _people_act(
    factory: sessionmaker[Session],
    crm: SandboxCrm,
    program: Program,
    settings: Settings,
    odds: Mapping[ProgramStage, StageOdds],
    day: datetime,
    seed: int,
    cancelled: set[int],
) -> Counter[str]:
    done: Counter[str] = Counter()
    done["moves"] += simulate_pipeline_day(factory, day, program.stage_map, seed, odds)
    acted, intros = simulate_csms(factory, crm, day + timedelta(hours=17), seed)
    done.update(acted)
    done.update(
        champions_submit(factory, program, settings, intros, day + timedelta(hours=18), seed)
    )
    if day.weekday() == 0:
        done["rep intros"] += reps_import(
            factory,
            program,
            settings,
            settings.data_dir / "imports",
            day + timedelta(hours=12),
            seed,
        )
        done.update(admin_reviews(factory, program, day + timedelta(hours=14)))
    if day.weekday() == 4:
        done.update(finance_pays(factory, settings.data_dir / "finance", day + timedelta(hours=16)))
    if day.day == 1:
        done["rep-tagged deals"] += rep_tags_a_deal(factory, day + timedelta(hours=11), seed)
    done.update(client_cancels(factory, program, day + timedelta(hours=11), cancelled))
    return done


def _program_day(
    factory: sessionmaker[Session],
    crm: SandboxCrm,
    program: Program,
    settings: Settings,
    deliverers: Mapping[OutboxChannel, Deliverer],
    chat: ChatLogNotifier,
    day: datetime,
) -> Counter[str]:
    """What the deployments do on a real day, through the same functions."""
    done: Counter[str] = Counter()
    synced = sync_crm(factory, crm, program, settings=settings)
    done.update(synced.by_type["deals"].extra)
    done["asked via CRM task"] += synced.by_type["tasks"].extra["asks_marked_asked"]
    moments = detect_moments(factory, program, day + timedelta(hours=8))
    done.update({"moments": moments.moments_detected, "asks": moments.asks_created})
    if day.weekday() < 5:
        prompts = prompt_csms(factory, program, chat, deliverers, day + timedelta(hours=9))
        done.update(
            {
                "digests": prompts.digests,
                "crm tasks": prompts.crm_tasks,
                "expired": prompts.expired,
                "re-surfaced": prompts.resurfaced,
            }
        )
    tracked = track_referrals(factory, program, settings, deliverers, day + timedelta(hours=10))
    done.update({k: v for k, v in tracked.counts.items() if k.startswith("decided")})
    done["feedback emails"] += tracked.counts["feedback emails enqueued"]
    rewarded = release_rewards(factory, program, settings, day + timedelta(hours=10)).counts
    done.update({k: v for k, v in rewarded.items() if k.startswith("rewards ")})
    dispatch_outbox(factory, deliverers, day + timedelta(hours=10))
    return done
