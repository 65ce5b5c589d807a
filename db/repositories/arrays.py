"""PostgreSQL arrays as batch parameters: one array per column for a batch insert, and
``column = ANY(array)`` for a long list of values. Either way the statement text is the same
whatever the batch size, so the driver parses it once; a VALUES list or an ``IN (...)`` of a
thousand placeholders is rendered by SQLAlchemy and scanned by psycopg on every execution
(psycopg caches only statements of at most 50 parameters).

Each array goes as one text parameter in PostgreSQL's array syntax, cast to its type in
SQL. psycopg would dump a Python list element by element, with a regular expression per
string (about half of a full sync's CPU at 10,000 accounts); here every element is formatted
once with ``str.replace`` and the server parses the literal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
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
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

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
            return column == any_(array_param(dialect, None, values, element))
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
            # None is JSON null unless the column says otherwise, as in a VALUES list.
            serialize = getattr(dialect, "_json_serializer", None) or json.dumps
            texts = [None if v is None and impl.none_as_null else serialize(v) for v in values]
            arrays[name] = array_param(dialect, f"u_{name}", texts, postgresql.JSONB())
            continue
        element = array_element(column_type)
        if element is None:
            return None
        process = impl.bind_processor(dialect)
        if process is not None:
            values = [process(v) for v in values]
        arrays[name] = array_param(dialect, f"u_{name}", values, element)
    return arrays


class _ArrayLiteral(UserDefinedType[str]):
    """A parameter written ``:name::TYPE[]`` whose value is that array's text. psycopg sends
    a ``str`` untyped, so the server reads the parameter as the array itself, a constant the
    planner counts; ``CAST(text AS TYPE[])`` would be an expression it guesses at ten
    elements, and a thousand-value lookup then plans as a full scan."""

    cache_ok = True
    render_bind_cast = True

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def get_col_spec(self, **_: Any) -> str:
        return self.spec


def array_param(
    dialect: Dialect, name: str | None, values: Sequence[Any], element: TypeEngine[Any]
) -> Any:
    """``:name::element[]`` with the values as one array literal."""
    spec = dialect.type_compiler_instance.process(postgresql.ARRAY(element))
    return bindparam(name, array_literal(values), type_=_ArrayLiteral(spec))


def _quoted(value: Any) -> str:
    # Quoted, so no value can end an element or the array early, whatever it holds.
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _elements(values: Sequence[Any]) -> list[str]:
    """Each value's text; a column of one type (ints, times: most non-text columns) in one
    pass without a call per value."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if kinds == {int}:
        return ["NULL" if v is None else str(v) for v in values]
    if kinds == {datetime} or kinds == {date}:
        return ["NULL" if v is None else v.isoformat() for v in values]
    return ["NULL" if v is None else _element(v) for v in values]


def _element(value: Any) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is datetime or kind is date:  # ISO 8601: digits, '-', ':', '.', 'T', '+'
        return value.isoformat()
    if kind is bool:
        return "t" if value else "f"
    return _quoted(value)


def array_literal(values: Sequence[Any]) -> str:
    """PostgreSQL's text form of a one-dimensional array: ``{1,"a \\"b\\"",NULL}``."""
    nones = values.count(None)
    marked = [_NULL if v is None else v for v in values] if nones else values
    try:
        joined = _SEPARATOR.join(marked)  # strings only: anything else raises TypeError
    except TypeError:
        return "{" + ",".join(_elements(values)) + "}"
    if joined.count(_SEPARATOR) != len(values) - 1 or joined.count(_NULL) != nones:
        # A value holds a marker itself: element by element (PostgreSQL refuses NUL anyway).
        return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"
    # All strings: escaped and quoted in a few passes over one string, not one per value.
    escaped = joined.replace("\\", "\\\\").replace('"', '\\"').replace(_SEPARATOR, '","')
    return ('{"' + escaped + '"}').replace(_QUOTED_NULL, "NULL")


_SEPARATOR = "\x00"
_NULL = "\x01"
_QUOTED_NULL = '"\x01"'


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
