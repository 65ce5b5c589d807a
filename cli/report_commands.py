"""`referrals report`: the program report, by month and in total, as files and on screen."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import typer

from cli.context import adapters_context, instant
from cli.output import print_json
from domain.report.markdown import headline
from tasks.report import build_report, write_report


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("must be a date such as 2026-03-01", param_hint=option) from None


def report(
    from_: str | None = typer.Option(
        None, "--from", help="First day (YYYY-MM-DD); default a year before --to."
    ),
    to: str | None = typer.Option(None, "--to", help="Last day (YYYY-MM-DD); default today."),
    out: Path | None = typer.Option(
        None, help="Folder for report.json, .md and .html; default DATA_DIR/reports."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """The program report by month and in total: asks and intros per CSM, referred leads,
    conversion and close rates, cycle days and deal size against other channels, pipeline
    share against the target, leaderboards, rewards by state, decisions by reason."""
    end = _day(to, "--to") or instant(None).date()
    start = _day(from_, "--from") or end - timedelta(days=365)
    if start > end:
        raise typer.BadParameter("must not be after --to", param_hint="--from")
    context = adapters_context()
    built = build_report(context.factory, context.program, start, end, names=True)
    written = write_report(built, context.program, out or context.settings.data_dir / "reports")
    if as_json:
        print_json(built)
        return
    typer.echo(headline(built))
    typer.echo(f"written: {written.json}, {written.markdown} and {written.html}")
