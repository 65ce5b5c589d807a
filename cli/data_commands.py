"""`referrals ingest ...` and `referrals book ...`: getting data in."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from cli.context import factory, instant
from cli.output import fail, print_json
from simulation.book import generate_book
from simulation.signals_file import write_signals
from tasks.ingest_signals import ingest_rows, read_rows
from tasks.load_book import load_book

ingest_app = typer.Typer(help="Import signals and referrals from files.", no_args_is_help=True)
book_app = typer.Typer(help="Synthetic book of business for demos and tests.", no_args_is_help=True)


@ingest_app.command("signals")
def ingest_signals(
    file: Path = typer.Argument(..., help="A .csv (with header) or .jsonl file."),
    at: str | None = typer.Option(None, help="Ingest time (ISO 8601); default now."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate every row and store the good ones; re-importing is a no-op.

    Exits 1 when any row was rejected or conflicted (the good rows are stored all the same).
    """
    if not file.exists():
        raise fail(f"{file}: no such file", 2)
    try:
        report = ingest_rows(factory(), read_rows(file), instant(at))
    except ValueError as error:
        raise fail(str(error), 2) from None
    summary = report.as_dict()
    if as_json:
        print_json({"file": str(file), **summary})
    else:
        for error in summary["errors"]:
            typer.echo(f"{file}: {error}", err=True)
        typer.echo(
            f"{file}: read {report.read}, new {report.new}, unchanged {report.unchanged}, "
            f"conflicting {len(report.conflicting)}, rejected rows "
            f"{len({e.split(',')[0] for e in report.rejected})}"
        )
    if report.rejected or report.conflicting:
        raise typer.Exit(1)


@book_app.command("generate")
def generate(
    seed: int = typer.Option(7, help="Same seed, same book."),
    accounts: int = typer.Option(200, min=0),
    csms: int = typer.Option(8, min=1),
    reps: int = typer.Option(4, min=1),
    start: str = typer.Option("2026-01-05", help="First day of the simulated period."),
    days: int = typer.Option(180, min=1),
    signals_out: Path = typer.Option(
        Path(".data/demo/signals.jsonl"), help="Where to write the book's signals (.jsonl or .csv)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Generate a book, load it into the sandbox CRM and the team, write its signals file."""
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
    result = {**counts.__dict__, "signals_file": str(signals_out)}
    if as_json:
        print_json(result)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in result.items()))
