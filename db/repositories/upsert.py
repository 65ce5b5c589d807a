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

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

# Below this many rows a VALUES list is as cheap, and its text is cached by the driver.
UNNEST_FROM = 8


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
    insert, params = _insert_of(session, table, rows)
    statement = insert.on_conflict_do_nothing(index_elements=conflict_columns)
    result = session.execute(statement.returning(table.c[conflict_columns[0]]), params)
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
    if dialect.name == "postgresql" and len(rows) >= UNNEST_FROM:
        arrays = _column_arrays(dialect, table, rows)
        if arrays is not None:
            source = select(literal_column("*")).select_from(func.unnest(*arrays.values()))
            return insert.from_select(list(arrays), source), None
    return insert, list(rows)


def _column_arrays(
    dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """One bound array per column, values already through the column type's own conversion;
    None when the rows differ in their keys or a column has no plain array type (JSON)."""
    keys = rows[0].keys()
    if any(row.keys() != keys for row in rows):
        return None
    arrays: dict[str, Any] = {}
    for name in keys:
        column_type = table.c[name].type
        element = _array_element(column_type)
        if element is None:
            return None
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[name] for row in rows]
        if process is not None:
            values = [process(v) for v in values]
        arrays[name] = bindparam(f"u_{name}", values, type_=postgresql.ARRAY(element))
    return arrays


def _array_element(column_type: TypeEngine[Any]) -> TypeEngine[Any] | None:
    """The element type to send values as. Strings go as unbounded text so that an over-long
    value is refused by the column (an explicit cast to VARCHAR(n) would cut it silently)."""
    base = column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type
    if isinstance(base, String):  # Enum included: stored as its value
        return Text()
    if isinstance(base, DateTime):
        return DateTime(timezone=base.timezone)
    if isinstance(base, Date):
        return Date()
    if isinstance(base, Boolean):
        return Boolean()
    if isinstance(base, Float):
        return Float()
    if isinstance(base, Numeric):
        return Numeric()
    if isinstance(base, Integer):
        return postgresql.BIGINT()
    return None
