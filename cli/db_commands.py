"""`referrals db ...`: schema migrations and a look at what is stored."""

from __future__ import annotations

import typer
from sqlalchemy import func, select

from cli.context import database_url, factory
from cli.output import emit
from db import migrate
from db.base import Base

app = typer.Typer(help="Database schema and contents.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations (default: up to the newest)."""
    migrate.upgrade(database_url(), revision)
    typer.echo(f"database at revision {migrate.current_revision(database_url())}")


@app.command()
def current() -> None:
    """Show the database's revision and the newest one available."""
    url = database_url()
    typer.echo(f"current: {migrate.current_revision(url)}  head: {migrate.head_revision(url)}")


@app.command()
def counts(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rows per table."""
    import db.models  # noqa: F401  (registers the tables)

    with factory()() as session:
        rows = [
            {"table": name, "rows": session.scalar(select(func.count()).select_from(table))}
            for name, table in sorted(Base.metadata.tables.items())
        ]
    emit(rows, as_json)
