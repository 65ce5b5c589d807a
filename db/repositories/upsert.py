"""Dialect-aware INSERT ... ON CONFLICT, so idempotent writes are one statement per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


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
    if not rows:
        return 0
    statement = dialect_insert(session, table).on_conflict_do_nothing(
        index_elements=conflict_columns
    )
    result = session.execute(statement.returning(table.c[conflict_columns[0]]), list(rows))
    return len(result.all())


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
    insert = dialect_insert(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=conflict_columns,
        set_={name: insert.excluded[name] for name in update_columns},
    )
    session.execute(statement, list(rows))
