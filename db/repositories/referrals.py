"""Referral queries: who refers by which code or email, new referrals, what is pending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Account, Person, Referral, ReferralLink, TeamMember
from db.repositories.upsert import dialect_insert, insert_ignoring_conflicts


@dataclass(frozen=True)
class Referrer:
    """Who refers: the person, their type and link, and the account (and its owner) they
    belong to, when known."""

    person: Person
    referrer_type: str
    link: ReferralLink | None
    account: Account | None
    owner: TeamMember | None


def referrers_by_code(session: Session, codes: Sequence[str]) -> dict[str, Referrer]:
    rows = session.execute(
        select(ReferralLink, Person, Account, TeamMember)
        .join(Person, Person.id == ReferralLink.person_id)
        .outerjoin(Account, Account.id == Person.account_id)
        .outerjoin(TeamMember, TeamMember.id == Account.owner_id)
        .where(ReferralLink.code.in_(list(codes)))
    ).all()
    return {
        link.code: Referrer(person, link.referrer_type_key, link, account, owner)
        for link, person, account, owner in rows
    }


def people_by_email(
    session: Session, emails: Sequence[str]
) -> dict[str, tuple[Person, Account | None, TeamMember | None]]:
    rows = session.execute(
        select(Person, Account, TeamMember)
        .outerjoin(Account, Account.id == Person.account_id)
        .outerjoin(TeamMember, TeamMember.id == Account.owner_id)
        .where(Person.email.in_(list(emails)))
    ).all()
    return {person.email: (person, account, owner) for person, account, owner in rows}


def add_people(session: Session, emails: Sequence[str]) -> None:
    """People the program meets before the CRM does (a partner who refers): kept by email; a
    later CRM sync adopts the row."""
    insert_ignoring_conflicts(
        session,
        Person.__table__,
        [
            {
                "email": email,
                "first_name": "",
                "last_name": "",
                "seniority": "unknown",
                "linkedin_followers": 0,
                "speaks_at_events": False,
                "opted_out": False,
            }
            for email in sorted(set(emails))
        ],
        ["email"],
    )


def insert_referrals(
    session: Session, rows: Sequence[dict[str, Any]]
) -> tuple[dict[str, int], set[str]]:
    """Insert new referrals (a known external id is left as it is); returns the id of every
    given external id, new or not, and the external ids this insert created."""
    table = Referral.__table__
    statement = dialect_insert(session, table).on_conflict_do_nothing(
        index_elements=["external_id"]
    )
    created = set(session.scalars(statement.returning(table.c.external_id), list(rows)))
    ids = [row["external_id"] for row in rows]
    found = session.execute(
        select(Referral.external_id, Referral.id).where(Referral.external_id.in_(ids))
    ).all()
    return dict(found), created


def referrals_since(
    session: Session, person_ids: Sequence[int], since: datetime
) -> dict[int, list[datetime]]:
    """When each of these referrers referred, from ``since`` on (for velocity)."""
    rows = session.execute(
        select(Referral.referrer_person_id, Referral.submitted_at).where(
            Referral.referrer_person_id.in_(list(person_ids)), Referral.submitted_at >= since
        )
    ).all()
    found: dict[int, list[datetime]] = {}
    for person_id, at in rows:
        found.setdefault(person_id, []).append(at)
    return found


def count_by_eligibility(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Referral.eligibility, func.count()).group_by(Referral.eligibility)
    ).all()
    return {str(status): count for status, count in rows}
