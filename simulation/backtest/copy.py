"""The throwaway copy a backtest replays into: the app's schema with the facts that never
change with time (team, accounts, people, referral links, signals) and none of the derived
state. The real database is only read, inside one consistent snapshot.

SQLite: the file is copied with sqlite3's backup API (a consistent snapshot even while the
app writes), then a new file gets the migrations and the static facts from the snapshot.
PostgreSQL: a schema of its own in the same database (``referrals_backtest_<random>``), reached
through the URL's ``search_path`` so the app's code runs there unchanged; migrated, filled with
INSERT ... SELECT in one REPEATABLE READ transaction that also reads the timed facts, and
dropped at the end, also on error.
"""

from __future__ import annotations

import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

import db.models  # noqa: F401  (every table on Base.metadata)
from db import migrate
from db.base import Base
from db.engine import engine_for, make_engine, normalise_url

T = TypeVar("T")

STATIC_TABLES: tuple[str, ...] = (
    "team_members",
    "referrer_types",
    "accounts",
    "people",
    "referral_links",
    "signals",
)
"""Facts the replay sees whole from its first day, in foreign-key order. Signals carry their
own time (detect-moments only takes those that occurred by its ``now``)."""

TIMED_TABLES: tuple[str, ...] = ("deals", "stage_events", "referrals")
"""Facts the replay inserts day by day with their own ids (sequences must pass them)."""

_RESET = {"signals": {"moment_checked_at": "NULL"}}
"""Derived columns of static tables: detect-moments has looked at no signal in the copy."""


class CopyError(RuntimeError):
    """The database cannot be copied (not migrated to this version, unknown backend)."""


@dataclass(frozen=True)
class Copy:
    url: str  # the throwaway database the replay writes to
    label: str  # where it lives, for the output (a temp file, a schema)


@contextmanager
def throwaway_copy(source_url: str, read: Callable[[Connection], T]) -> Iterator[tuple[Copy, T]]:
    """A migrated copy with the static facts of ``source_url``, and what ``read`` found in the
    same snapshot of the source; removed when the block ends, however it ends."""
    source_url = normalise_url(source_url)
    _check_migrated(source_url)
    backend = make_url(source_url).get_backend_name()
    if backend == "sqlite":
        with _sqlite_copy(source_url, read) as result:
            yield result
    elif backend == "postgresql":
        with _postgres_copy(source_url, read) as result:
            yield result
    else:
        raise CopyError(f"cannot make a throwaway copy of a {backend} database")


def _check_migrated(url: str) -> None:
    current, head = migrate.current_revision(url), migrate.head_revision(url)
    if current != head:
        raise CopyError(
            f"the database is at migration {current or 'none'}, not {head}: run "
            "`referrals db upgrade` first"
        )


@contextmanager
def _sqlite_copy(source_url: str, read: Callable[[Connection], T]) -> Iterator[tuple[Copy, T]]:
    path = make_url(source_url).database
    if not path or path == ":memory:":
        raise CopyError("an in-memory SQLite database cannot be backtested")
    with tempfile.TemporaryDirectory(prefix="referrals-backtest-") as folder:
        snapshot = Path(folder) / "snapshot.db"
        copy = Path(folder) / "copy.db"
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(snapshot)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        copy_url = f"sqlite:///{copy.as_posix()}"
        migrate.upgrade(copy_url)
        reader = make_engine(f"sqlite:///{snapshot.as_posix()}")
        try:
            with reader.connect() as connection:
                found = read(connection)
            reader.dispose()
            _fill(copy, snapshot)
            yield Copy(copy_url, "a temporary SQLite file"), found
        finally:
            reader.dispose()
            engine_for(copy_url).dispose()  # no pooled handle keeps the temp folder busy


@contextmanager
def _postgres_copy(source_url: str, read: Callable[[Connection], T]) -> Iterator[tuple[Copy, T]]:
    schema = f"referrals_backtest_{secrets.token_hex(6)}"
    copy_url = _with_search_path(source_url, schema)
    admin = make_engine(source_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            migrate.upgrade(copy_url)
            with admin.connect() as connection:
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    found = read(connection)
                    source_schema = connection.scalar(text("SELECT current_schema()"))
                    for table in STATIC_TABLES:
                        connection.exec_driver_sql(
                            _insert_select(table, f'"{schema}"', f'"{source_schema}"')
                        )
                    _advance_sequences(connection, schema, source_schema)
            yield Copy(copy_url, f"the temporary schema {schema}"), found
        finally:
            engine_for(copy_url).dispose()
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def _fill(copy: Path, snapshot: Path) -> None:
    """The static facts from the snapshot, in one transaction (plain sqlite3: ATTACH and
    DETACH must happen outside a transaction, which SQLAlchemy's connection always opens)."""
    connection = sqlite3.connect(copy, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("ATTACH DATABASE ? AS src", (str(snapshot),))
        connection.execute("BEGIN")
        for table in STATIC_TABLES:
            connection.execute(_insert_select(table, "main", "src"))
        connection.execute("COMMIT")
        connection.execute("DETACH DATABASE src")
    finally:
        connection.close()


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    options = parsed.query.get("options")
    existing = " ".join(options) if isinstance(options, tuple) else (options or "")
    value = f"-csearch_path={schema} {existing}".strip()
    return parsed.update_query_dict({"options": value}).render_as_string(hide_password=False)


def _insert_select(table: str, target: str, source: str) -> str:
    columns = [c.name for c in Base.metadata.tables[table].columns]
    reset = _RESET.get(table, {})
    chosen = ", ".join(reset.get(c, f'"{c}"') for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO {target}."{table}" ({names}) SELECT {chosen} FROM {source}."{table}"'


def _advance_sequences(connection: Connection, schema: str, source_schema: str) -> None:
    """Rows keep their ids in the copy; new rows (a new champion's link, say) must come after
    the source's highest id, not collide with it."""
    for table in (*STATIC_TABLES, *TIMED_TABLES):
        highest = connection.scalar(text(f'SELECT max(id) FROM "{source_schema}"."{table}"'))
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value, :called)"),
            {
                "table": f'"{schema}"."{table}"',
                "value": highest or 1,
                "called": highest is not None,
            },
        )
