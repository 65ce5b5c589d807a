"""The demo: the journey so far on a synthetic book of business, sandbox adapters only.

Later steps of the journey add themselves here; the demo drives their plain functions over
simulated days rather than starting a Prefect flow run per day (a flow run costs ~1 s).
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import typer
from sqlalchemy import func, select

from core.settings import get_settings
from db import migrate
from db.engine import session_factory
from db.models import SandboxCompany, SandboxContact, SandboxDeal, TeamMember
from db.repositories.signals import counts_by_kind
from domain.program import load_program, preset_text
from simulation.book import generate_book
from simulation.signals_file import write_signals
from tasks.ingest_signals import ingest_rows, read_rows
from tasks.load_book import load_book


def _say(text: str) -> None:
    typer.echo(text)


def run_demo(seed: int, accounts: int, days: int) -> None:
    settings = get_settings()
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

    with factory() as session:
        table_counts = {
            "team members": session.scalar(select(func.count()).select_from(TeamMember)),
            "sandbox companies": session.scalar(select(func.count()).select_from(SandboxCompany)),
            "sandbox contacts": session.scalar(select(func.count()).select_from(SandboxContact)),
            "sandbox deals": session.scalar(select(func.count()).select_from(SandboxDeal)),
        }
        by_kind = counts_by_kind(session)
    _say("5. counts")
    for name, count in table_counts.items():
        _say(f"   {name:<18} {count}")
    _say(f"   signals            {sum(by_kind.values())}")
    for kind, count in sorted(by_kind.items(), key=lambda item: -item[1]):
        _say(f"     {kind:<22} {count}")
