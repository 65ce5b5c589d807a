"""Reading signal files (CSV with a header, JSON lines) into raw rows, each with its line.

A file is read as a stream and a bad line never stops the reading: it becomes a row with a
problem, named by its line (the header of a CSV file is line 1; blank lines are skipped but
counted). Only a file that cannot be read at all raises ``SignalFileError``.

Bytes that are not UTF-8 are kept as lone surrogates (``surrogateescape``) so the row
validator can name the field that holds them instead of the decoder failing mid-file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from domain.display import printable
from domain.signal_rows import RowProblem

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


class SignalFileError(ValueError):
    """The file cannot be read at all (missing, wrong type, unreadable header); no row was."""


@dataclass(frozen=True)
class RawRow:
    line: int  # where the row starts in the file: its identity in every message
    values: dict[str, Any] | None
    problem: RowProblem | None = None  # the row could not even be read


def read_rows(path: Path) -> Iterator[RawRow]:
    """Rows of a `.csv` (with a header) or `.jsonl`/`.ndjson`/`.json` (one object per line)."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SignalFileError(f"unsupported file type '{path.suffix}' (use .csv or .jsonl)")
    with _open(path, newline="" if kind == "csv" else None) as handle:
        yield from _read_csv(handle) if kind == "csv" else _read_jsonl(handle)


def _open(path: Path, newline: str | None) -> IO[str]:
    try:
        with path.open("rb") as raw:
            start = raw.read(4)
        encoding = next((name for bom, name in _WIDE_BOMS.items() if start.startswith(bom)), None)
        if encoding:
            raise SignalFileError(f"is {encoding} text; save it as UTF-8")
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline=newline)
    except IsADirectoryError:
        raise SignalFileError("is a directory, not a file") from None
    except FileNotFoundError:
        raise SignalFileError("no such file") from None
    except OSError as error:
        raise SignalFileError(f"cannot be read ({error.strerror})") from None


def _read_csv(handle: IO[str]) -> Iterator[RawRow]:
    reader = csv.reader(handle)
    header = _header(reader)
    last = reader.line_num
    while True:
        line = last + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RawRow(line, None, RowProblem(None, _csv_problem(error)))
            continue
        finally:
            last = reader.line_num
        if any(cell.strip() for cell in record):
            yield _csv_row(line, header, record)


def _header(reader: Any) -> list[str]:
    try:
        record = next((r for r in reader if any(cell.strip() for cell in r)), [])
    except csv.Error as error:
        raise SignalFileError(f"line {reader.line_num}: {_csv_problem(error)}") from None
    names = [cell.strip() for cell in record]
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        shown = ", ".join(f"'{printable(name)}'" for name in repeated)
        raise SignalFileError(f"line {reader.line_num}: the header repeats {shown}")
    return names


def _csv_row(line: int, header: list[str], record: list[str]) -> RawRow:
    if len(record) > len(header):
        problem = f"has {len(record)} values but the header has {len(header)} columns"
        return RawRow(line, None, RowProblem(None, problem))
    unnamed = [i + 1 for i, name in enumerate(header[: len(record)]) if not name and record[i]]
    if unnamed:
        problem = f"column {unnamed[0]} has a value but no name in the header"
        return RawRow(line, None, RowProblem(None, problem))
    # A short record leaves its last columns out: required ones are then reported missing.
    named = zip(header, record, strict=False)
    return RawRow(line, {name: value for name, value in named if name})


def _csv_problem(error: csv.Error) -> str:
    if "field limit" in str(error):
        return f"a field is longer than {csv.field_size_limit()} characters"
    return f"cannot be read as CSV ({error})"


def _read_jsonl(handle: IO[str]) -> Iterator[RawRow]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            problem = f"is not valid JSON ({error.msg}, column {error.colno})"
        except ValueError:  # an integer of more than 4300 digits
            problem = "is not valid JSON (a number has too many digits)"
        except RecursionError:
            problem = "is not valid JSON (nested too deeply)"
        else:
            if isinstance(value, dict):
                yield RawRow(line, value)
                continue
            problem = "is not a JSON object ({...} with the signal's fields)"
        yield RawRow(line, None, RowProblem(None, problem))


Parsed = TypeVar("Parsed")


class RowReport(Protocol):
    """What a file import counts: rows read and rejected, each problem as a line."""

    read: int
    rejected: int
    errors: list[str]


def parse_rows(
    rows: Iterable[RawRow],
    parse: Callable[[dict[str, Any]], tuple[Parsed | None, list[str]]],
    report: RowReport,
) -> list[tuple[int, Parsed]]:
    """The rows ``parse`` accepts, with their lines; the others counted in ``report`` and
    named there by line and field (``line 4, field 'company': is required``)."""
    parsed: list[tuple[int, Parsed]] = []
    for raw in rows:
        report.read += 1
        if raw.values is None:
            report.rejected += 1
            report.errors.append(f"line {raw.line}: {raw.problem}")
            continue
        value, errors = parse(raw.values)
        if value is None:
            report.rejected += 1
            report.errors += [f"line {raw.line}, {error}" for error in errors]
        else:
            parsed.append((raw.line, value))
    return parsed
