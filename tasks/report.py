"""The program report: read the facts, compute the metrics, write `report.json`,
`report.md` and `report.html` (with its charts). The files carry people's names (an admin
reads them); what goes to Prefect carries ids."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import report as repo
from db.repositories.outbox import NewMessage, enqueue
from domain.digest import mrkdwn, note_payload
from domain.program import Program
from domain.report.markdown import headline, report_markdown
from domain.report.metrics import Target, program_report
from domain.statuses import OutboxChannel
from tasks.report_html import report_html


def build_report(
    factory: sessionmaker[Session], program: Program, start: date, end: date, names: bool
) -> dict[str, Any]:
    with factory() as session:
        asks = repo.ask_rows(session, start, end, names)
        referrals = repo.referral_rows(session, start, end, names)
        deals = repo.deal_rows(session, start, end, names)
        rewards = repo.reward_rows(session)
    targets = {
        role: Target(goal.asks_per_month, goal.intros_per_quarter)
        for role, goal in (("csm", program.targets.csm), ("rep", program.targets.rep))
        if goal.asks_per_month or goal.intros_per_quarter
    }
    return program_report(
        asks, referrals, deals, rewards, program.target_pipeline_share, start, end, targets
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


def report_post(report: dict[str, Any], program: Program, channel: str) -> NewMessage:
    """The report's headline and leaders for a Slack channel, once per period (the dedupe
    key is the period: a rerun posts nothing twice)."""
    period = report["period"]
    lines = [f"*{mrkdwn(program.name)}: program report* ({period['from']} to {period['to']})"]
    lines.append(mrkdwn(headline(report)))
    if report["top_csms"]:
        top = ", ".join(
            f"{mrkdwn(c['csm'])} ({c['intros']} intros)" for c in report["top_csms"][:3]
        )
        lines.append(f"Top CSMs: {top}")
    if report["top_referrers"]:
        top = ", ".join(mrkdwn(r["referrer"]) for r in report["top_referrers"][:3])
        lines.append(f"Top referrers: {top}. Thank you!")
    text = "\n".join(lines)
    return NewMessage(
        channel=OutboxChannel.CHAT,
        operation="post_message",
        recipient=channel,
        dedupe_key=f"program-report:{channel}:{period['from']}:{period['to']}",
        template="program_report",
        payload=note_payload(text),
    )


def post_report(
    factory: sessionmaker[Session],
    report: dict[str, Any],
    program: Program,
    channel: str,
    now: datetime,
) -> int:
    """Enqueue the post; dispatch-outbox delivers it. Returns 1 when new."""
    with transaction(factory) as session:
        return enqueue(session, [report_post(report, program, channel)], now)
