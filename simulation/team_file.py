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
        for email, slack_id, name in approvers(len(book.companies)):
            writer.writerow(
                {
                    "email": email,
                    "role": "approver",
                    "name": name,
                    "crm_owner_id": "",
                    "slack_id": slack_id,
                }
            )


def approvers(accounts: int) -> list[tuple[str, str, str]]:
    """Finance approvers who own no CRM records: one per 2,000 accounts (at least one; the
    first is the demo's)."""
    found = [(APPROVER_EMAIL, APPROVER_SLACK_ID, "Finance Approvals")]
    for i in range(2, max(1, round(accounts / 2000)) + 1):
        found.append((f"finance{i}@{names.VENDOR_DOMAIN}", f"U0FINANCE{i:02d}", f"Finance {i}"))
    return found
