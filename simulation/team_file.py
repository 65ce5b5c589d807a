"""The team file of a synthetic book: what an admin would write for `referrals team import`
(each CRM owner's role and Slack id, and a finance approver who owns no CRM records)."""

from __future__ import annotations

import csv
from pathlib import Path

from domain.team import TEAM_COLUMNS
from simulation import names
from simulation.book import Book

APPROVER_EMAIL = f"finance@{names.VENDOR_DOMAIN}"
APPROVER_SLACK_ID = "U0FINANCE01"


def write_team_file(book: Book, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TEAM_COLUMNS)
        writer.writeheader()
        for member in book.team:
            writer.writerow(
                {
                    "email": member.email,
                    "role": member.role,
                    "name": member.name,
                    "crm_owner_id": member.crm_owner_id,
                    "slack_id": member.slack_user_id or "",
                }
            )
        writer.writerow(
            {
                "email": APPROVER_EMAIL,
                "role": "approver",
                "name": "Finance Approvals",
                "crm_owner_id": "",
                "slack_id": APPROVER_SLACK_ID,
            }
        )
