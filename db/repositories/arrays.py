"""PostgreSQL arrays as batch parameters: one array per column for a batch insert, and
``column = ANY(array)`` for a long list of values. Either way the statement text is the same
whatever the batch size, so the driver parses it once; a VALUES list or an ``IN (...)`` of a
thousand placeholders is rendered by SQLAlchemy and scanned by psycopg on every execution
(psycopg caches only statements of at most 50 parameters)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    any_,
    bindparam,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

# Below this many values a placeholder list is as cheap, and its text is cached by the driver.
ARRAYS_FROM = 8


def one_of(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL, from ``ARRAYS_FROM`` values on, one array
    parameter (``column = ANY(:values)``) that keeps the statement's text fixed."""
    values = list(values)
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and len(values) >= ARRAYS_FROM:
        element = array_element(column.type)
        if element is not None:
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                values = [process(v) for v in values]
            return column == any_(bindparam(None, values, type_=postgresql.ARRAY(element)))
    return column.in_(values)


def column_arrays(
    dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """One bound array per column, values through the column type's own conversion; None
    when the rows differ in their keys or a column has no array type here."""
    keys = rows[0].keys()
    if any(row.keys() != keys for row in rows):
        return None
    arrays: dict[str, Any] = {}
    for name in keys:
        column_type = table.c[name].type
        values = [row[name] for row in rows]
        impl = column_type.dialect_impl(dialect)
        if isinstance(impl, postgresql.JSONB):
            # The array's own element processing wraps each value for psycopg (None is
            # JSON null, as in a VALUES list).
            arrays[name] = bindparam(f"u_{name}", values, type_=postgresql.ARRAY(impl))
            continue
        element = array_element(column_type)
        if element is None:
            return None
        process = impl.bind_processor(dialect)
        if process is not None:
            values = [process(v) for v in values]
        arrays[name] = bindparam(f"u_{name}", values, type_=postgresql.ARRAY(element))
    return arrays


def array_element(column_type: TypeEngine[Any]) -> TypeEngine[Any] | None:
    """The element type to send values as, once converted by the column's own type. Strings
    go as unbounded text so that an over-long value is refused by the column (an explicit
    cast to VARCHAR(n) would cut it silently)."""
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
