"""Dialect-aware INSERT ... ON CONFLICT, so idempotent writes are one statement per batch.

On PostgreSQL a batch goes as one array per column (``INSERT ... SELECT * FROM unnest(...)``)
rather than as a VALUES list: the statement text stays the same whatever the batch size, so
the driver parses it once, instead of scanning a query of thousands of placeholders on every
batch (psycopg caches only statements of at most 50 parameters, and that scan was most of a
signal ingest's CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.repositories.arrays import ARRAYS_FROM, column_arrays


def dialect_insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {dialect}")


def insert_ignoring_conflicts(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], conflict_columns: Sequence[str]
) -> int:
    """Insert rows, skipping any whose ``conflict_columns`` already exist. Returns rows inserted."""
    return len(insert_new(session, table, rows, conflict_columns, conflict_columns[:1]))


def insert_new(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[str],
) -> list[Any]:
    """Insert rows, skipping any whose ``conflict_columns`` already exist; returns the
    ``returning`` columns of the rows actually inserted, in no particular order."""
    if not rows:
        return []
    insert, params = _insert_of(session, table, rows)
    statement = insert.on_conflict_do_nothing(index_elements=conflict_columns)
    columns = [table.c[name] for name in returning]
    return list(session.execute(statement.returning(*columns), params).all())


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (no conflict expected), one statement per batch."""
    if rows:
        insert, params = _insert_of(session, table, rows)
        session.execute(insert, params)


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict_columns: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """Insert rows, or update ``update_columns`` where ``conflict_columns`` already exist."""
    if not rows:
        return
    insert, params = _insert_of(session, table, rows)
    statement = insert.on_conflict_do_update(
        index_elements=conflict_columns,
        set_={name: insert.excluded[name] for name in update_columns},
    )
    session.execute(statement, params)


def _insert_of(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> tuple[Any, Any]:
    """The INSERT for these rows and the parameters to execute it with."""
    insert = dialect_insert(session, table)
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and len(rows) >= ARRAYS_FROM:
        arrays = column_arrays(dialect, table, rows)
        if arrays is not None:
            source = select(literal_column("*")).select_from(func.unnest(*arrays.values()))
            return insert.from_select(list(arrays), source), None
    return insert, list(rows)
