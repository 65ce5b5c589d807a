"""The team: CRM owners become team members; a person gives them a role. Pure rules.

The CRM says who exists (name, email, team, active); the program's admin says who does what
(role, Slack id). A sync never overwrites a role or a Slack id a person set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.crm_records import Rejection
from domain.statuses import TeamRole
from domain.text import clean_text, normalise_email

TEAM_COLUMNS = ("email", "role", "name", "crm_owner_id", "slack_id")
ROLES = ", ".join(r.value for r in TeamRole)
SLACK_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@dataclass(frozen=True)
class OwnerFields:
    """A team member as the CRM knows them."""

    crm_owner_id: str
    email: str
    name: str
    team: str | None
    active: bool


def map_owner(
    crm_id: str,
    email: object,
    first_name: object,
    last_name: object,
    teams: Sequence[str],
    archived: bool,
) -> OwnerFields | Rejection:
    address = normalise_email(email)
    if address is None:
        missing = email in (None, "")
        reason = "email is missing" if missing else "email is not a valid address"
        return Rejection("owner", crm_id, reason, "email")
    name = " ".join(
        part for part in (clean_text(first_name, 100), clean_text(last_name, 100)) if part
    )
    team = clean_text(teams[0], 64) if teams else ""
    return OwnerFields(crm_id, address, name or address, team or None, not archived)


@dataclass(frozen=True)
class TeamRow:
    """A member an admin adds or updates by hand (CLI or CSV)."""

    email: str
    role: TeamRole | None
    name: str | None = None
    crm_owner_id: str | None = None
    slack_id: str | None = None


def parse_role(value: object) -> TeamRole:
    text = clean_text(value, 32).lower()
    try:
        return TeamRole(text)
    except ValueError:
        raise ValueError(f"role must be one of {ROLES}") from None


def parse_slack_id(value: object) -> str:
    text = clean_text(value, 32)
    if not (text[:1] in {"U", "W"} and len(text) >= 3 and set(text) <= SLACK_ID_CHARS):
        raise ValueError("slack id must be a Slack user id such as U024BE7LH")
    return text


def parse_team_row(raw: Mapping[str, Any]) -> tuple[TeamRow | None, list[str]]:
    """One row of a team file; every problem as ``field 'name': message``."""
    errors = [f"field '{k}': unknown column" for k in sorted(set(raw) - set(TEAM_COLUMNS))]
    email = normalise_email(raw.get("email"))
    if email is None:
        errors.append("field 'email': is missing or not an email address")
    role: TeamRole | None = None
    if clean_text(raw.get("role")):
        try:
            role = parse_role(raw.get("role"))
        except ValueError as error:
            errors.append(f"field 'role': {error}")
    slack: str | None = None
    if clean_text(raw.get("slack_id")):
        try:
            slack = parse_slack_id(raw.get("slack_id"))
        except ValueError as error:
            errors.append(f"field 'slack_id': {error}")
    owner = clean_text(raw.get("crm_owner_id"), 64) or None
    if errors or email is None:
        return None, errors
    return TeamRow(email, role, clean_text(raw.get("name"), 200) or None, owner, slack), []
