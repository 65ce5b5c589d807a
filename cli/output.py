"""Printing for the CLI: a plain table for people, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import typer


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=_default, indent=2, ensure_ascii=False))


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    if not rows:
        typer.echo("(none)")
        return
    columns = list(columns or dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def emit(rows: Sequence[Mapping[str, Any]], as_json: bool, columns: Sequence[str] | None = None):
    if as_json:
        print_json(list(rows))
    else:
        print_table(rows, columns)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def print_flow_result(name: str, result: Any) -> None:
    """What a flow did, as tables: a list of rows, a sync report, or a parent flow's parts."""
    if isinstance(result, list):
        typer.echo(f"{name}:")
        print_table(result)
    elif isinstance(result, dict) and "objects" in result:
        typer.echo(f"{name}:")
        print_table(result["objects"])
        for line in result.get("quarantined", []):
            typer.echo(f"  quarantined {line}")
        for line in result.get("new_issues", []):
            typer.echo(f"  new: {line}")
        calls = result.get("api_calls") or {}
        if calls:
            typer.echo("  API calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
    elif isinstance(result, dict):
        for part, value in result.items():
            print_flow_result(str(part), value)
    else:
        typer.echo(f"{name}: {result}")


def print_import(file: Any, report: Any, summary: str, as_json: bool) -> None:
    """A file import's answer: JSON, or each problem (stderr) then ``FILE: summary``. Exit 1
    when a row was rejected (the good ones are kept)."""
    if as_json:
        print_json({"file": str(file), **report.as_dict()})
    else:
        for error in report.errors:
            typer.echo(f"{file}: {error}", err=True)
        typer.echo(f"{file}: {summary}")
    if report.rejected:
        raise typer.Exit(1)
