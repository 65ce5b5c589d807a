"""What the database held before a bad input, to show after it that nothing was lost.

A snapshot is every row of the named tables, keyed by primary key. ``compare`` then checks
that each row from before is still there with the same values (some columns may be allowed
to change, say an ask's status when an accepted intro names it) and returns the rows that
are new, for the property to judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.base import Base

Row = dict[str, Any]
Snapshot = dict[str, dict[tuple[Any, ...], Row]]


def snapshot(factory: sessionmaker[Session], tables: Iterable[str]) -> Snapshot:
    taken: Snapshot = {}
    with factory() as session:
        for name in tables:
            table = Base.metadata.tables[name]
            keys = [column.name for column in table.primary_key.columns]
            rows = session.execute(select(table)).mappings()
            taken[name] = {tuple(row[k] for k in keys): dict(row) for row in rows}
    return taken


def compare(
    before: Snapshot,
    after: Snapshot,
    may_change: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, list[Row]]:
    """Assert every row of ``before`` is in ``after`` unchanged (but for ``may_change``
    columns); the new rows per table."""
    allowed = {name: set(columns) for name, columns in (may_change or {}).items()}
    for name, rows in before.items():
        for key, row in rows.items():
            kept = after[name].get(key)
            assert kept is not None, f"{name} row {key} was lost"
            changed = {c for c in row if row[c] != kept[c]} - allowed.get(name, set())
            assert not changed, f"{name} row {key} changed in {sorted(changed)}"
    return {
        name: [row for key, row in rows.items() if key not in before[name]]
        for name, rows in after.items()
    }
