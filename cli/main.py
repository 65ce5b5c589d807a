"""The `referrals` command: run the program by hand, inspect it, fix what needs a person."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from cli import (
    ask_commands,
    crm_commands,
    data_commands,
    db_commands,
    outbox_commands,
    program_commands,
    referral_commands,
    report_commands,
    review_commands,
    reward_commands,
    serve_commands,
    simulate_commands,
    slack_commands,
    team_commands,
    web_commands,
)
from cli.context import instant
from cli.output import fail, print_flow_result, print_json
from cli.problems import ProblemGroup

app = typer.Typer(
    cls=ProblemGroup,
    help="Self-hosted B2B referral-program engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(program_commands.app, name="config")
app.command("init")(program_commands.init)
app.add_typer(data_commands.ingest_app, name="ingest")
app.add_typer(data_commands.book_app, name="book")
app.add_typer(outbox_commands.app, name="outbox")
app.add_typer(crm_commands.app, name="crm")
app.add_typer(ask_commands.app, name="asks")
app.add_typer(team_commands.app, name="team")
app.command("web")(web_commands.web)
app.command("refer")(referral_commands.refer)
app.command("link")(referral_commands.link)
app.add_typer(referral_commands.import_app, name="import")
app.add_typer(review_commands.referrals_app, name="referrals")
app.add_typer(review_commands.review_app, name="review")
app.add_typer(reward_commands.rewards_app, name="rewards")
app.add_typer(reward_commands.referrers_app, name="referrers")
app.add_typer(slack_commands.app, name="slack")
app.command("report")(report_commands.report)
app.command("serve")(serve_commands.serve)
app.command("simulate")(simulate_commands.simulate)


@app.callback()
def main(
    ctx: typer.Context,
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log by id; show tracebacks instead of one-line problems."
    ),
) -> None:
    ctx.obj = {"verbose": verbose}
    _log_to_stderr(logging.INFO if verbose else logging.WARNING)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


class _StderrNow(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, never a stream captured at
    setup that may be closed by then (one process runs many commands: tests, `serve`)."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass


def _log_to_stderr(level: int) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrNow) or _stale(h)]:
        root.removeHandler(handler)
    handler = _StderrNow()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def _stale(handler: logging.Handler) -> bool:
    """A stream handler whose stream was closed (set up by an earlier command of the same
    process, Prefect's console handler say): it can only print logging errors now."""
    stream = getattr(handler, "stream", None)
    return isinstance(handler, logging.StreamHandler) and bool(getattr(stream, "closed", False))


@contextmanager
def quiet_prefect(quiet: bool) -> Iterator[None]:
    """Prefect's own run logs off while a flow runs for a person (tables and problems only);
    restored after, for a process that goes on (tests, `referrals serve`)."""
    loggers = [logging.getLogger(name) for name in ("prefect", "EventsWorker")]
    levels = [logger.level for logger in loggers]
    if quiet:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@app.command()
def run(
    ctx: typer.Context,
    name: str = typer.Argument(None, help="Flow name; omit to list them."),
    at: str | None = typer.Option(None, help="Run as if at this time (ISO 8601)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run one flow now (through Prefect, so it shows in the UI when a server is configured)
    and print a table of what it did."""
    when = instant(at) if at else None
    quiet = not ctx.obj.get("verbose")
    if quiet:
        # Prefect logs a failed run's traceback itself; a person gets one line (ProblemGroup).
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    from flows.registry import FLOWS, run_flow

    if name is None:
        for flow_name, flow in sorted(FLOWS.items()):
            typer.echo(f"{flow_name}: {(flow.__doc__ or '').strip().splitlines()[0]}")
        return
    if name not in FLOWS:
        raise fail(f"problem: unknown flow {name!r}; known: {', '.join(sorted(FLOWS))}", 2)
    with quiet_prefect(quiet):
        result = run_flow(name, when)
    if as_json:
        print_json(result)
    else:
        print_flow_result(name, result)


@app.command()
def demo(
    seed: int = typer.Option(7, help="Seed of the synthetic book of business."),
    accounts: int = typer.Option(200, min=1, help="Client accounts in the book."),
    days: int = typer.Option(180, min=1, help="Length of the simulated period."),
    out: Path | None = typer.Option(
        None,
        help="Output folder: database, reports, charts, .eml emails, chat log "
        "[default: <data dir>/demo].",
    ),
) -> None:
    """Run a whole program over simulated days on a synthetic book of business, with sandbox
    adapters only; ends with the program report. With a PostgreSQL DATABASE_URL the demo's
    tables live in that database's schema `referrals_demo`."""
    from cli.demo import run_demo

    run_demo(seed=seed, accounts=accounts, days=days, out=out)


if __name__ == "__main__":
    app()
