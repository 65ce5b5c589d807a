"""`referrals simulate`: a candidate program replayed over the history in the database, in a
throwaway copy, next to what the current program did. Nothing is sent, nothing real changes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from cli.context import instant
from cli.output import fail, print_json
from core.settings import get_settings
from domain.program import load_program
from simulation.backtest.compare import comparison_rows
from simulation.backtest.copy import CopyError
from simulation.backtest.run import NOTES, Backtest, BacktestError, run_backtest


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"problem: {option} {value!r}: must be a date such as 2026-03-01", 2) from None


def simulate(
    program: Path = typer.Option(
        ..., "--program", help="The candidate program file (YAML) to replay."
    ),
    from_: str | None = typer.Option(
        None, "--from", help="First day reported (YYYY-MM-DD); default: the start of history."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Last day (YYYY-MM-DD); default: the latest fact, at most today."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Dry-run and backtest a program: replay it over the history in the database (deals and
    their stages, signals, referrals as submitted, people's decisions) in a throwaway copy,
    sending nothing, and print what it would have asked, refused and rewarded next to what
    the current program did over the same days."""
    start, end = _day(from_, "--from"), _day(to, "--to")
    if start and end and start > end:
        raise fail(f"problem: --from {start} is after --to {end}", 2)
    candidate = load_program(program)  # a bad file: one `problem:` line naming the key path
    settings = get_settings()
    try:
        backtest = run_backtest(
            settings.resolved_database_url,
            candidate,
            settings,
            start,
            end,
            instant(None).date(),
        )
    except (BacktestError, CopyError) as error:
        raise fail(f"problem: {error}", 1) from None
    if as_json:
        print_json({"program": str(program), **backtest.as_dict()})
        return
    _print(backtest, program, candidate.currency)


def _print(backtest: Backtest, program: Path, currency: str) -> None:
    period = backtest.as_dict()["period"]
    typer.echo(
        f"Backtest of {program} over {period['from']} .. {period['to']} "
        f"({period['days_replayed']} days replayed from {period['replayed_from']} in "
        f"{backtest.copy_label}, removed; nothing sent)"
    )
    rows = comparison_rows(backtest)
    width = max(len(r["item"]) for r in rows)
    cells = [(str(r["current"]), str(r["candidate"]), r["change"]) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(_HEADERS)]
    typer.echo(
        " " * width + "  " + "  ".join(h.rjust(w) for h, w in zip(_HEADERS, widths, strict=True))
    )
    for row, cell in zip(rows, cells, strict=True):
        typer.echo(
            row["item"].ljust(width)
            + "  "
            + "  ".join(c.rjust(w) for c, w in zip(cell, widths, strict=True))
        )
    typer.echo(f"(amounts in {currency}; current = what the database holds, as it stood then)")
    replayed = backtest.replay.human
    typer.echo(
        "replayed: " + (", ".join(f"{k} {v}" for k, v in sorted(replayed.items())) or "nothing")
    )
    for note in NOTES:
        typer.echo(f"note: {note}")


_HEADERS = ("current", "candidate", "change")
