"""Team members: from the CRM's owners and from an admin; links of accounts and deals to
their owners, resolved again whenever the team changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import Account, Deal, TeamMember
from db.repositories.arrays import one_of
from domain.crm_records import Rejection
from domain.statuses import TeamRole
from domain.team import OwnerFields, TeamRow


@dataclass
class OwnerCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)


def list_members(session: Session) -> list[TeamMember]:
    return list(session.scalars(select(TeamMember).order_by(TeamMember.email)))


def member_by_email(session: Session, email: str) -> TeamMember | None:
    return session.scalar(select(TeamMember).where(TeamMember.email == email))


def apply_owners(session: Session, owners: Sequence[OwnerFields]) -> OwnerCounts:
    """Create or update a member per active CRM owner (matched by owner id, then by email,
    so a member an admin added by hand is adopted); deactivate members whose owner is gone.
    Roles and Slack ids are never touched."""
    counts = OwnerCounts()
    members = list_members(session)
    by_owner = {m.crm_owner_id: m for m in members if m.crm_owner_id}
    by_email = {m.email: m for m in members}
    for owner in owners:
        member = by_owner.get(owner.crm_owner_id) or by_email.get(owner.email)
        clash = by_email.get(owner.email)
        if member is None:
            member = TeamMember(email=owner.email, name=owner.name, role=None)
            session.add(member)
            by_email[owner.email] = member
            counts.created += 1
        elif member.crm_owner_id not in (None, owner.crm_owner_id) or (
            clash is not None and clash is not member
        ):
            other = member if member.crm_owner_id != owner.crm_owner_id else clash
            counts.rejected.append(
                Rejection(
                    "owner",
                    owner.crm_owner_id,
                    f"email is already team member {other.id}'s, linked to another CRM owner",
                    "email",
                )
            )
            continue
        elif (member.crm_owner_id, member.email, member.name, member.team, member.active) == (
            owner.crm_owner_id,
            owner.email,
            owner.name,
            owner.team,
            owner.active,
        ):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        member.crm_owner_id = owner.crm_owner_id
        member.email, member.name, member.team, member.active = (
            owner.email,
            owner.name,
            owner.team,
            owner.active,
        )
    present = {o.crm_owner_id for o in owners}
    gone = [m for m in members if m.crm_owner_id and m.crm_owner_id not in present and m.active]
    for member in gone:
        member.active = False
    counts.deactivated = len(gone)
    session.flush()
    return counts


def save_member(session: Session, row: TeamRow) -> tuple[TeamMember, str]:
    """Add a member or update the one with this email (only the fields given): returns it and
    ``created``, ``updated`` or ``unchanged``. Raises ValueError when the CRM owner id belongs
    to another member."""
    member = member_by_email(session, row.email)
    if row.crm_owner_id:
        holder = session.scalar(
            select(TeamMember).where(TeamMember.crm_owner_id == row.crm_owner_id)
        )
        if holder is not None and holder is not member:
            raise ValueError(f"CRM owner {row.crm_owner_id} is already team member {holder.id}")
    created = member is None
    if member is None:
        member = TeamMember(email=row.email, name=row.name or row.email, role=row.role)
        session.add(member)
    before = _fields(member)
    if row.name:
        member.name = row.name
    if row.role is not None:
        member.role = row.role
    if row.crm_owner_id:
        member.crm_owner_id = row.crm_owner_id
    if row.slack_id:
        member.slack_user_id, member.slack_lookup_error = row.slack_id, None
    session.flush()
    if created:
        return member, "created"
    return member, "updated" if _fields(member) != before else "unchanged"


def _fields(member: TeamMember) -> tuple[object, ...]:
    return (member.name, member.role, member.crm_owner_id, member.slack_user_id)


def set_role(session: Session, email: str, role: TeamRole | None) -> TeamMember | None:
    member = member_by_email(session, email)
    if member is not None:
        member.role = role
        session.flush()
    return member


def resolve_owner_links(session: Session) -> int:
    """Point every account and deal with a CRM owner id at the team member that id names now
    (or at nobody): set-based, only rows whose link is out of date change."""
    changed = 0
    for model in (Account, Deal):
        member = (
            select(TeamMember.id)
            .where(TeamMember.crm_owner_id == model.owner_crm_id)
            .scalar_subquery()
        )
        result = session.execute(
            update(model)
            .where(
                model.owner_crm_id.is_not(None),
                func.coalesce(model.owner_id, -1) != func.coalesce(member, -1),
            )
            .values(owner_id=member)
            .execution_options(synchronize_session=False)
        )
        changed += result.rowcount or 0
    return changed


def owner_ids(session: Session, crm_owner_ids: Sequence[str]) -> dict[str, int]:
    wanted = sorted({o for o in crm_owner_ids if o})
    if not wanted:
        return {}
    rows = session.execute(
        select(TeamMember.crm_owner_id, TeamMember.id).where(
            one_of(session, TeamMember.crm_owner_id, wanted)
        )
    ).all()
    return {str(crm): member_id for crm, member_id in rows}
