"""The team, by hand: add members, give roles, import a team file. Every change resolves the
owner links of accounts and deals again, so a member added or given a role after a sync owns
their companies at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import TeamMember
from db.repositories import team as repo
from domain.statuses import TeamRole
from domain.team import TeamRow, parse_team_row
from tasks.signal_files import RawRow, parse_rows


@dataclass
class TeamImport:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    owner_links_changed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def member_row(member: TeamMember, companies: int | None = None) -> dict[str, Any]:
    """A member as `referrals team list` shows it (ids and work emails only)."""
    row: dict[str, Any] = {
        "id": member.id,
        "email": member.email,
        "name": member.name,
        "role": member.role.value if member.role else None,
        "team": member.team,
        "crm_owner_id": member.crm_owner_id,
        "slack_user_id": member.slack_user_id,
        "active": member.active,
    }
    if companies is not None:
        row["companies"] = companies
    return row


def save_member(factory: sessionmaker[Session], row: TeamRow) -> tuple[dict[str, Any], str]:
    """Add or update one member (``created``, ``updated``, ``unchanged``); raises ValueError
    on a CRM owner id clash."""
    with transaction(factory) as session:
        member, status = repo.save_member(session, row)
        repo.resolve_owner_links(session)
        return member_row(member), status


def set_role(
    factory: sessionmaker[Session], email: str, role: TeamRole | None
) -> dict[str, Any] | None:
    with transaction(factory) as session:  # links follow owner ids, not roles: none to redo
        member = repo.set_role(session, email, role)
        return None if member is None else member_row(member)


def import_team(factory: sessionmaker[Session], rows: Iterable[RawRow]) -> TeamImport:
    """Every good row is applied (one transaction); bad rows are named by line and field."""
    report = TeamImport()
    parsed = parse_rows(rows, parse_team_row, report)
    with transaction(factory) as session:
        for line, row in parsed:
            try:
                with session.begin_nested():
                    _, status = repo.save_member(session, row)
            except ValueError as error:
                report.rejected += 1
                report.errors.append(f"line {line}, field 'crm_owner_id': {error}")
                continue
            setattr(report, status, getattr(report, status) + 1)
        report.owner_links_changed = repo.resolve_owner_links(session)
    return report
