"""Signal ingest from a file (CSV or JSON lines): validate every row, store the good ones.

Re-importing is a no-op (the external id is unique). A row whose external id is known but whose
facts differ is reported as a conflict and the stored row is kept: the first word stands, and a
person decides.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import signals as repo
from domain.signal_rows import SignalRow, parse_signal_row
from domain.signals import SignalSource

CHUNK = 1000


@dataclass(frozen=True)
class RawRow:
    number: int  # 1-based data row
    line: int  # where it starts in the file, for editors
    values: dict[str, Any] | None
    problem: str | None = None  # the row could not even be read


@dataclass
class IngestReport:
    read: int = 0
    new: int = 0
    unchanged: int = 0
    conflicting: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "new": self.new,
            "unchanged": self.unchanged,
            "conflicting": len(self.conflicting),
            "rejected": len(self.rejected),
            "errors": self.rejected + self.conflicting,
        }


def read_rows(path: Path) -> Iterator[RawRow]:
    """Rows of a `.csv` (with a header) or `.jsonl`/`.ndjson`/`.json` (one object per line)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _read_csv(path)
    elif suffix in {".jsonl", ".ndjson", ".json"}:
        yield from _read_jsonl(path)
    else:
        raise ValueError(f"{path}: unsupported file type '{suffix}' (use .csv or .jsonl)")


def _read_csv(path: Path) -> Iterator[RawRow]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        line = reader.line_num + 1
        for number, record in enumerate(reader, start=1):
            if None in record:
                yield RawRow(number, line, None, "has more values than the header has columns")
            else:
                yield RawRow(number, line, {k.strip(): v for k, v in record.items() if k})
            line = reader.line_num + 1


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    with path.open(encoding="utf-8-sig") as handle:
        number = 0
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            number += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield RawRow(number, line_no, None, f"not valid JSON ({error.msg})")
                continue
            if not isinstance(value, dict):
                yield RawRow(number, line_no, None, "is not a JSON object")
            else:
                yield RawRow(number, line_no, value)


def ingest_rows(
    factory: sessionmaker[Session],
    rows: Iterable[RawRow],
    now: datetime,
    default_source: SignalSource = SignalSource.FILE,
) -> IngestReport:
    """Validate and store rows in chunks; each chunk is one transaction."""
    report = IngestReport()
    iterator = iter(rows)
    seen: set[str] = set()
    while chunk := list(islice(iterator, CHUNK)):
        valid: list[SignalRow] = []
        for raw in chunk:
            report.read += 1
            where = f"row {raw.number} (line {raw.line})"
            if raw.values is None:
                report.rejected.append(f"{where}: {raw.problem}")
                continue
            parsed, errors = parse_signal_row(raw.values, default_source)
            if parsed is None:
                report.rejected += [f"{where}, {error}" for error in errors]
                continue
            if parsed.external_id in seen:
                report.rejected.append(
                    f"{where}, field 'external_id': '{parsed.external_id}' repeats an earlier row"
                )
                continue
            seen.add(parsed.external_id)
            valid.append(parsed)
        _store(factory, valid, now, report)
    with transaction(factory) as session:
        repo.link_to_accounts_and_people(session)
    return report


def _store(
    factory: sessionmaker[Session], rows: list[SignalRow], now: datetime, report: IngestReport
) -> None:
    if not rows:
        return
    with transaction(factory) as session:
        existing = repo.existing_by_external_id(session, [r.external_id for r in rows])
        fresh = [r for r in rows if r.external_id not in existing]
        for row in rows:
            stored = existing.get(row.external_id)
            if stored is None:
                continue
            if _stored_facts(stored) == row.comparable():
                report.unchanged += 1
            else:
                report.conflicting.append(
                    f"signal '{row.external_id}': already stored with different facts; kept the "
                    "stored one"
                )
        inserted = repo.insert_new(session, fresh, now)
        report.new += inserted
        # A concurrent import may have inserted some of `fresh` first: those are unchanged now.
        report.unchanged += len(fresh) - inserted


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
