"""The team file of a synthetic book: what an admin would write for `referrals team import`
(each CRM owner's role and Slack id)."""

from __future__ import annotations

import csv
from pathlib import Path

from domain.team import TEAM_COLUMNS
from simulation.book import Book


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
