"""The program report: read the facts, compute the metrics, write `report.json`,
`report.md` and `report.html` (with its charts). The files carry people's names (an admin
reads them); what goes to Prefect carries ids."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.repositories import report as repo
from domain.program import Program
from domain.report.markdown import report_markdown
from domain.report.metrics import program_report
from tasks.report_html import report_html


def build_report(
    factory: sessionmaker[Session], program: Program, start: date, end: date, names: bool
) -> dict[str, Any]:
    with factory() as session:
        asks = repo.ask_rows(session, start, end, names)
        referrals = repo.referral_rows(session, start, end, names)
        deals = repo.deal_rows(session, start, end, names)
        rewards = repo.reward_rows(session)
    return program_report(
        asks, referrals, deals, rewards, program.target_pipeline_share, start, end
    )


@dataclass(frozen=True)
class Written:
    json: Path
    markdown: Path
    html: Path


def _replace(path: Path, text: str) -> None:
    """Write whole or not at all: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, 0o644)  # a report is for reading (mkstemp makes it private)
    os.replace(temporary, path)


def write_report(report: dict[str, Any], program: Program, folder: Path) -> Written:
    written = Written(folder / "report.json", folder / "report.md", folder / "report.html")
    title = f"{program.name}: program report"
    _replace(written.json, json.dumps(report, indent=2, sort_keys=False) + "\n")
    _replace(written.markdown, report_markdown(report, title))
    _replace(written.html, report_html(report, title))
    return written
