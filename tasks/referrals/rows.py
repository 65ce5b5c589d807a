"""Sales-assisted capture from the command line and from files: rows become capture inputs
with stable ids, so running the same command or importing the same file again adds nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from domain.program import Program
from domain.referrals.intake import ReferralRow, parse_referral_row
from domain.statuses import ReferralChannel
from tasks.referrals.capture import CaptureInput, capture_referrals, stable_id
from tasks.signal_files import RawRow, parse_rows


def capture_input(row: ReferralRow) -> CaptureInput:
    intake = row.intake
    return CaptureInput(
        channel=ReferralChannel(row.channel),
        intake=intake,
        referrer_email=row.referrer_email,
        referrer_type=row.referrer_type,
        ask_id=row.ask_id,
        industry=row.industry,
        external_id=row.external_id
        or stable_id(
            row.channel, row.referrer_email, intake.company, intake.domain, intake.contact_email
        ),
    )


# A file's messages name the field and never repeat its value.
_FILE_MESSAGES = {
    "referrer_type": "is not one of the program's referrer types ({types})",
    "ask_id": "no ask has this id",
}


@dataclass
class ReferralImport:
    read: int = 0
    new: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_referrals(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    rows: Iterable[RawRow],
    now: datetime,
) -> ReferralImport:
    """Good rows are captured (one transaction), bad ones named by line and field."""
    report = ReferralImport()
    types = ", ".join(t.key for t in program.referrer_types)
    parsed = _first_of_each_id(list(parse_rows(rows, parse_referral_row, report)), report)
    inputs = [(line, capture_input(row)) for line, row in parsed]
    results = capture_referrals(factory, program, settings, [i for _, i in inputs], now)
    for (line, _), result in zip(inputs, results, strict=True):
        if result.problem:
            report.rejected += 1
            field = result.field or "referrer_email"
            message = _FILE_MESSAGES.get(field, result.problem).format(types=types)
            report.errors.append(f"line {line}, field '{field}': {message}")
        elif result.created:
            report.new += 1
        else:
            report.unchanged += 1
    return report


def _first_of_each_id(
    rows: list[tuple[int, ReferralRow]], report: ReferralImport
) -> list[tuple[int, ReferralRow]]:
    """A row repeating an external id given earlier in the same file is refused by field, as
    signal files do: which of two different intros the id means cannot be told. (Rows with
    no id of their own get one from their content: the same intro twice is simply known.)"""
    first_line: dict[str, int] = {}
    kept = []
    for line, item in rows:
        first = first_line.setdefault(item.external_id, line) if item.external_id else line
        if first != line:
            report.rejected += 1
            report.errors.append(
                f"line {line}, field 'external_id': repeats line {first} "
                "(each referral needs its own id)"
            )
            continue
        kept.append((line, item))
    return kept
