"""The demo: the journey so far on a synthetic book of business, sandbox adapters only.

Later steps of the journey add themselves here; the demo drives their plain functions over
simulated days rather than starting a Prefect flow run per day (a flow run costs ~1 s).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

import typer
from sqlalchemy import func, select

from core.settings import get_settings
from db import migrate
from db.engine import session_factory
from db.models import (
    Account,
    Deal,
    Person,
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
    StageEvent,
    TeamMember,
)
from db.repositories.signals import counts_by_kind
from domain.program import Program, load_program, preset_text
from domain.stages import ProgramStage
from integrations.sandbox.crm import SandboxCrm
from simulation.book import generate_book
from simulation.pipeline import StageOdds, odds_from
from simulation.signals_file import write_signals
from tasks.ingest_signals import ingest_rows, read_rows
from tasks.load_book import load_book
from tasks.simulate_pipeline import simulate_pipeline_day
from tasks.sync_crm import SyncReport, sync_crm


def _say(text: str) -> None:
    typer.echo(text)


def run_demo(seed: int, accounts: int, days: int) -> None:
    settings = get_settings()
    try:
        odds = odds_from(settings.sandbox_stage_odds)
    except (ValueError, KeyError) as error:
        raise typer.BadParameter(f"REFERRALS_SANDBOX_STAGE_ODDS: {error}") from None
    url = settings.resolved_database_url
    _say(f"1. migrate  {url.split('@')[-1]}")
    migrate.upgrade(url)
    factory = session_factory(url)

    program_file = settings.program_file
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
        f"contacts, {len(book.deals)} deals, {len(book.team)} team members -> sandbox CRM"
    )

    signals_file = settings.data_dir / "demo" / "signals.jsonl"
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

    _say(f"5. days     {days} simulated days: sandbox deals move, sync-crm pulls the changes")
    simulate_days(factory, program, book.start, days, seed, odds)

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
        }
        by_kind = counts_by_kind(session)
    _say("6. counts")
    for name, count in table_counts.items():
        _say(f"   {name:<18} {count}")
    _say(f"   signals            {sum(by_kind.values())}")
    for kind, count in sorted(by_kind.items(), key=lambda item: -item[1]):
        _say(f"     {kind:<22} {count}")


def simulate_days(  # type: ignore[no-untyped-def]
    factory,
    program: Program,
    start: date,
    days: int,
    seed: int,
    odds: Mapping[ProgramStage, StageOdds],
) -> None:
    """Each simulated day: the sandbox CRM moves deals, then the program syncs the CRM."""
    crm = SandboxCrm(factory)
    stage_map = program.stage_lookup()
    totals: Counter[str] = Counter()
    period: Counter[str] = Counter()
    first = sync_crm(factory, crm, program)
    _say(f"   day 0     initial sync: {_describe(first)}")
    for offset in range(days):
        day = datetime.combine(start + timedelta(days=offset), time(0), UTC)
        period["moves"] += simulate_pipeline_day(factory, day, stage_map, seed, odds)
        report = sync_crm(factory, crm, program)
        deals = report.by_type["deals"]
        period.update({"updated": deals.updated, **deals.extra})
        if (offset + 1) % 30 == 0 or offset + 1 == days:
            _say(
                f"   day {offset + 1:<4} {day.date()}: {period['moves']} stage moves, "
                f"{period['stage_events']} stage events recorded, {period['closed_lost']} "
                f"closed lost, {period['reopened']} reopened"
            )
            totals.update(period)
            period.clear()


def _describe(report: SyncReport) -> str:
    return ", ".join(f"{row['object']} {row['created']} new" for row in report.rows()) + (
        f"; API calls {sum(report.api_calls.values())}"
    )
