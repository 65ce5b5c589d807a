"""`referrals ingest ...` and `referrals book ...`: getting data in."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from cli.context import factory, instant
from cli.output import fail, print_json
from simulation.book import generate_book
from simulation.signals_file import write_signals
from simulation.team_file import write_team_file
from tasks.ingest_signals import SignalFileError, ingest_rows, read_rows
from tasks.load_book import load_book

ingest_app = typer.Typer(help="Import signals from files.", no_args_is_help=True)
book_app = typer.Typer(help="Synthetic book of business for demos and tests.", no_args_is_help=True)


@ingest_app.command("signals")
def ingest_signals(
    file: Path = typer.Argument(..., help="A .csv (with header) or .jsonl file."),
    at: str | None = typer.Option(None, help="Ingest time (ISO 8601); default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate every row and store the good ones; re-importing is a no-op.

    Rows are named by their line in the file (a CSV header is line 1). Exits 1 when any row
    was rejected or conflicted (the good rows are stored all the same), 2 when the file
    cannot be read at all (nothing is stored).
    """
    now = instant(at)
    try:
        report = ingest_rows(factory(), read_rows(file), now)
    except SignalFileError as error:
        raise fail(f"{file}: {error}", 2) from None
    summary = report.as_dict()
    if as_json:
        print_json({"file": str(file), **summary})
    else:
        for error in summary["errors"]:
            typer.echo(f"{file}: {error}", err=True)
        counts = ("read", "new", "unchanged", "conflicting", "rejected")
        typer.echo(f"{file}: " + ", ".join(f"{name} {summary[name]}" for name in counts))
    if report.rejected or report.conflicting:
        raise typer.Exit(1)


@book_app.command("generate")
def generate(
    seed: int = typer.Option(7, help="Same seed, same book."),
    accounts: int = typer.Option(200, min=0),
    csms: int | None = typer.Option(
        None, min=1, help="CSMs [default: one per 100 accounts, at least 8]."
    ),
    reps: int | None = typer.Option(
        None, min=1, help="Sales reps [default: one per 250 accounts, at least 4]."
    ),
    start: str = typer.Option("2026-01-05", help="First day of the simulated period."),
    days: int = typer.Option(180, min=1),
    signals_out: Path = typer.Option(
        Path(".data/demo/signals.jsonl"), help="Where to write the book's signals (.jsonl or .csv)."
    ),
    team_out: Path = typer.Option(
        Path(".data/demo/team.csv"), help="Where to write the team file (roles, Slack ids)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Generate a book, load it into the sandbox CRM (owners, companies, contacts, deals),
    write its signals file and its team file. Then: `referrals crm sync`, `referrals team
    import TEAM_FILE`, `referrals ingest signals SIGNALS_FILE`."""
    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(
            f"'{start}' is not a date (YYYY-MM-DD)", param_hint="--start"
        ) from None
    book = generate_book(
        seed=seed, accounts=accounts, csms=csms, reps=reps, start=first_day, days=days
    )
    counts = load_book(factory(), book)
    signals_out.parent.mkdir(parents=True, exist_ok=True)
    write_signals(book.signals, signals_out)
    write_team_file(book, team_out)
    result = {**counts.__dict__, "signals_file": str(signals_out), "team_file": str(team_out)}
    if as_json:
        print_json(result)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in result.items()))
