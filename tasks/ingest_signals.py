"""Signal ingest from a file (CSV or JSON lines): validate every row, store the good ones.

Every row read ends up in exactly one count: new, unchanged, conflicting or rejected, and
each conflicting or rejected row is named by its line. Re-importing is a no-op (the external
id is unique). A row whose external id is known but whose facts differ is a conflict and the
stored row is kept: the first word stands, and a person decides.

Rows are stored in chunks, one statement per chunk. Should the database still refuse a chunk
that passed validation, the chunk is stored again row by row (a savepoint each) so only the
refused rows are lost, and they are named without their values: the database's own error
text carries the parameters, personal data included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from core.collector import batch_pacing
from db.engine import transaction
from db.repositories import signals as repo
from domain.signal_rows import COMPARED, FIELDS, RowProblem, SignalRow, parse_signal_row
from domain.signals import SignalSource
from tasks.signal_files import RawRow, SignalFileError, read_rows

__all__ = ["IngestReport", "RawRow", "RowError", "SignalFileError", "ingest_rows", "read_rows"]

CHUNK = 1000
# After this many new rows the planner's statistics of the signals table are refreshed before
# the linking below: with the table's old size in mind it scans every unlinked signal per
# chunk of accounts (minutes after a million-row file).
ANALYZE_FROM = 10_000


@dataclass(frozen=True)
class RowError:
    """A rejected or conflicting row: its line and what is wrong with it."""

    line: int
    problems: tuple[RowProblem, ...]

    def messages(self) -> list[str]:
        return [
            f"line {self.line}, {p}" if p.field else f"line {self.line}: {p.message}"
            for p in self.problems
        ]


@dataclass
class IngestReport:
    read: int = 0
    new: int = 0
    unchanged: int = 0
    conflicting: list[RowError] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Every message about a rejected or conflicting row, in file order."""
        rows = sorted([*self.rejected, *self.conflicting], key=lambda row: row.line)
        return [message for row in rows for message in row.messages()]

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "new": self.new,
            "unchanged": self.unchanged,
            "conflicting": len(self.conflicting),
            "rejected": len(self.rejected),
            "errors": self.errors,
        }


@dataclass
class _Stored:
    """What storing some rows did; added to the report only once its transaction commits."""

    new: int = 0
    unchanged: int = 0
    conflicting: list[RowError] = field(default_factory=list)
    refused: list[RowError] = field(default_factory=list)

    def add(self, other: _Stored) -> None:
        self.new += other.new
        self.unchanged += other.unchanged
        self.conflicting += other.conflicting
        self.refused += other.refused


Numbered = tuple[int, SignalRow]


@batch_pacing()
def ingest_rows(
    factory: sessionmaker[Session],
    rows: Iterable[RawRow],
    now: datetime,
    default_source: SignalSource = SignalSource.FILE,
) -> IngestReport:
    """Validate and store rows in chunks; each chunk is one transaction.

    Raises ``SignalFileError`` (before storing anything) when the file cannot be read at all.
    """
    report = IngestReport()
    iterator = iter(rows)
    first_line: dict[str, int] = {}  # external id -> the line that used it first
    while chunk := list(islice(iterator, CHUNK)):
        report.read += len(chunk)
        valid = [row for raw in chunk if (row := _validated(raw, default_source, report))]
        valid = [row for row in valid if not _repeated(row, first_line, report)]
        stored = _store(factory, valid, now)
        report.new += stored.new
        report.unchanged += stored.unchanged
        report.conflicting += stored.conflicting
        report.rejected += stored.refused
    if report.new >= ANALYZE_FROM:
        with transaction(factory) as session:
            repo.analyze(session)
    return report


def _validated(raw: RawRow, default_source: SignalSource, report: IngestReport) -> Numbered | None:
    if raw.values is None:
        problems = [raw.problem or RowProblem(None, "cannot be read")]
        report.rejected.append(RowError(raw.line, tuple(problems)))
        return None
    parsed, problems = parse_signal_row(raw.values, default_source)
    if parsed is None:
        report.rejected.append(RowError(raw.line, tuple(problems)))
        return None
    return raw.line, parsed


def _repeated(row: Numbered, first_line: dict[str, int], report: IngestReport) -> bool:
    line, parsed = row
    first = first_line.setdefault(parsed.external_id, line)
    if first == line:
        return False
    problem = RowProblem("external_id", f"repeats line {first} (each signal needs its own id)")
    report.rejected.append(RowError(line, (problem,)))
    return True


def _store(factory: sessionmaker[Session], rows: list[Numbered], now: datetime) -> _Stored:
    if not rows:
        return _Stored()
    try:
        with transaction(factory) as session:
            return _store_in(session, rows, now)
    except (StatementError, ValueError) as error:
        if not _is_refusal(error):
            raise
    return _store_one_by_one(factory, rows, now)


def _store_one_by_one(
    factory: sessionmaker[Session], rows: list[Numbered], now: datetime
) -> _Stored:
    stored = _Stored()
    with transaction(factory) as session:
        for line, row in rows:
            try:
                with session.begin_nested():
                    stored.add(_store_in(session, [(line, row)], now))
            except (StatementError, ValueError) as error:
                if not _is_refusal(error):
                    raise
                stored.refused.append(RowError(line, (_refusal(error),)))
    return stored


def _store_in(session: Session, rows: Sequence[Numbered], now: datetime) -> _Stored:
    stored = _Stored()
    existing = repo.existing_by_external_id(session, [row.external_id for _, row in rows])
    fresh = [row for _, row in rows if row.external_id not in existing]
    for line, row in rows:
        known = existing.get(row.external_id)
        if known is None:
            continue
        facts = zip(COMPARED, row.comparable(), _stored_facts(known), strict=True)
        differs = [name for name, mine, theirs in facts if mine != theirs]
        if differs:
            stored.conflicting.append(RowError(line, (_conflict(differs),)))
        else:
            stored.unchanged += 1
    stored.new = repo.insert_new(session, fresh, now)
    # A concurrent import may have inserted some of `fresh` first: those are unchanged now.
    stored.unchanged += len(fresh) - stored.new
    return stored


def _conflict(differs: list[str]) -> RowProblem:
    names = ", ".join(differs)
    return RowProblem(
        differs[0] if len(differs) == 1 else None,
        f"its external_id is already stored with a different {names}; kept the stored signal",
    )


def _stored_facts(stored: Any) -> tuple[Any, ...]:
    value = stored.value.normalize() if stored.value is not None else None
    return (
        stored.kind,
        stored.account_crm_id,
        stored.person_email,
        value,
        stored.text,
        stored.occurred_at,
    )


def _is_refusal(error: Exception) -> bool:
    """The database (or its driver) refused the data, as opposed to being unreachable."""
    if isinstance(error, DBAPIError):
        return isinstance(error, DataError | IntegrityError)
    return True  # a bind parameter the driver could not convert


_SQLITE_COLUMN = re.compile(r"\bsignals\.(\w+)")  # "NOT NULL constraint failed: signals.kind"


def _refusal(error: Exception) -> RowProblem:
    """What the database refused, by field when it says which; never the row's values."""
    cause = getattr(error, "orig", None) or error
    diagnostic = getattr(cause, "diag", None)
    column = getattr(diagnostic, "column_name", None)
    if column is None:
        found = _SQLITE_COLUMN.search(str(cause))
        column = found.group(1) if found else None
    known = column if column in FIELDS else None
    return RowProblem(known, f"the database refused this row ({type(cause).__name__})")
