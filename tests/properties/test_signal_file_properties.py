"""Properties of signal ingest over generated files (see ``signal_cases`` for what a case is).

Whatever a file holds: nothing but ``SignalFileError`` escapes, every row read is counted
once (new + unchanged + conflicting + rejected = read), every valid row is stored with
exactly its facts, every certainly-invalid row is named by its line (and field), every
message is one printable line, and no message repeats a value.
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Signal
from domain.clock import EARLIEST, LATEST, parse_instant
from domain.signal_rows import FIELDS, parse_signal_row
from tasks.ingest_signals import IngestReport, ingest_rows, read_rows
from tests.conftest import T0
from tests.properties.profiles import scaled
from tests.properties.signal_cases import JSONISH, SECRET, Line, SignalFile, signal_file

MESSAGE = re.compile(r"line (\d+)(?:, field '([^']*)')?: (.+)")


def written(case: SignalFile, folder: str) -> Path:
    path = Path(folder) / f"signals{case.suffix}"
    path.write_bytes(case.data)
    return path


def assert_one_clean_line(message: str) -> None:
    assert message and all(c.isprintable() for c in message), repr(message)
    assert SECRET not in message, message


def blank(line: Line, suffix: str) -> bool:
    """A junk line the reader skips: nothing but blanks (and, in CSV, separators)."""
    text = line.junk.replace(",", "") if suffix == ".csv" else line.junk
    return line.values is None and not text.strip()


# --- reading and validating, no database: many cases ---------------------------------------


@settings(max_examples=scaled(200))
@given(case=signal_file())
def test_every_line_is_read_once_and_judged_as_built(case: SignalFile) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = list(read_rows(written(case, folder)))
    by_line = {raw.line: raw for raw in rows}
    assert len(by_line) == len(rows)
    assert set(by_line) <= set(case.lines), "a row was read where none was written"
    for number, line in case.lines.items():
        raw = by_line.get(number)
        if raw is None:
            assert line.outcome == "any" and blank(line, case.suffix), (number, line)
            continue
        if raw.values is None:
            assert raw.problem is not None and line.outcome != "valid", (number, line)
            assert line.bad_field is None, (number, raw.problem)
            assert_one_clean_line(str(raw.problem))
            continue
        parsed, problems = parse_signal_row(raw.values)
        for problem in problems:
            assert_one_clean_line(str(problem))
        if line.outcome == "valid":
            assert problems == [] and parsed is not None, (number, problems)
            assert asdict(parsed) == line.expected
        elif line.outcome == "invalid":
            assert parsed is None, (number, line.bad_field)
            assert line.bad_field in {p.field for p in problems}, (number, line.bad_field, problems)


@settings(max_examples=scaled(200))
@given(
    raw=st.dictionaries(
        st.sampled_from(FIELDS) | st.text(max_size=12), JSONISH | st.text(), max_size=10
    )
)
def test_any_mapping_is_a_row_or_named_problems(raw: dict[str, Any]) -> None:
    parsed, problems = parse_signal_row(raw)
    assert (parsed is None) == bool(problems)
    for problem in problems:
        assert problem.field is not None
        assert "\n" not in str(problem) and all(c.isprintable() for c in str(problem))


_ANY_OFFSET = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=scaled(300))
@given(
    text=st.text()
    | st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), st.datetimes(), _ANY_OFFSET)
    | st.dates().map(lambda d: d.isoformat())
)
def test_an_instant_is_in_range_utc_or_a_value_error(text: str) -> None:
    try:
        instant = parse_instant(text)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    assert instant.tzinfo is UTC and EARLIEST <= instant < LATEST


# --- the whole ingest, on the test database: fewer cases, one database per test ------------


def counted(report: IngestReport) -> int:
    return report.new + report.unchanged + len(report.conflicting) + len(report.rejected)


def named(report: IngestReport) -> dict[int, set[str | None]]:
    """Line -> the fields its messages name (None: the whole row)."""
    fields: dict[int, set[str | None]] = defaultdict(set)
    for message in report.errors:
        assert_one_clean_line(message)
        match = MESSAGE.fullmatch(message)
        assert match, message
        fields[int(match.group(1))].add(match.group(2))
    return fields


def stored_signals(factory: sessionmaker[Session]) -> dict[str, Signal]:
    with factory() as session:
        return {s.external_id: s for s in session.scalars(select(Signal))}


def facts(signal: Signal) -> dict[str, Any]:
    return {
        "external_id": signal.external_id,
        "kind": signal.kind,
        "account_crm_id": signal.account_crm_id,
        "person_email": signal.person_email,
        "value": signal.value,
        "text": signal.text,
        "occurred_at": signal.occurred_at,
        "source": signal.source,
    }


@settings(max_examples=scaled(30))
@given(case=signal_file(max_rows=8))
def test_ingest_stores_every_good_row_names_every_bad_one_and_counts_add_up(
    case: SignalFile, factory: sessionmaker[Session]
) -> None:
    connection = factory.kw["bind"]
    each_case = connection.begin_nested()  # the test's database, emptied after every case
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = written(case, folder)
            first = ingest_rows(factory, read_rows(path), T0)
            again = ingest_rows(factory, read_rows(path), T0)
        check_first_import(case, first, stored_signals(factory))
        assert (again.read, again.new, again.unchanged) == (first.read, 0, first.new)
        assert again.errors == first.errors
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(Signal)) == first.new
    finally:
        each_case.rollback()


def check_first_import(case: SignalFile, report: IngestReport, stored: dict[str, Signal]) -> None:
    assert counted(report) == report.read
    assert report.unchanged == 0 and report.conflicting == []
    fields = named(report)
    assert set(fields) <= set(case.lines)
    for number, line in case.lines.items():
        if line.outcome == "valid":
            assert number not in fields, (number, report.errors)
            signal = stored[line.expected["external_id"]]
            assert facts(signal) == line.expected
        elif line.outcome == "invalid":
            assert number in fields, (number, line.bad_field)
            assert line.bad_field in fields[number], (number, line.bad_field, report.errors)
