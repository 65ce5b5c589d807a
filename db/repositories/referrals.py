"""Referral queries: who refers by which code or email, new referrals, what is pending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from db.models import (
    Account,
    Deal,
    DomainClaim,
    OutboxMessage,
    Person,
    Referral,
    ReferralLink,
    TeamMember,
)
from db.repositories.arrays import one_of
from db.repositories.upsert import dialect_insert, insert_ignoring_conflicts
from domain.statuses import Eligibility, OutboxStatus


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
        .where(one_of(session, ReferralLink.code, list(codes)))
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
        .where(one_of(session, Person.email, list(emails)))
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
        select(Referral.external_id, Referral.id).where(one_of(session, Referral.external_id, ids))
    ).all()
    return dict(found), created


def referrals_since(
    session: Session, person_ids: Sequence[int], since: datetime
) -> dict[int, list[datetime]]:
    """When each of these referrers referred, from ``since`` on (for velocity)."""
    rows = session.execute(
        select(Referral.referrer_person_id, Referral.submitted_at).where(
            one_of(session, Referral.referrer_person_id, list(person_ids)),
            Referral.submitted_at >= since,
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


def pending(session: Session, limit: int) -> list[Referral]:
    """Undecided referrals, oldest first; two runs at once take different ones."""
    return list(
        session.scalars(
            select(Referral)
            .where(Referral.eligibility == Eligibility.PENDING)
            .order_by(Referral.submitted_at, Referral.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def account_domains(session: Session, person_ids: Sequence[int]) -> dict[int, str | None]:
    """The domain of each person's account (the referrer's own company), when known."""
    rows = session.execute(
        select(Person.id, Account.domain)
        .outerjoin(Account, Account.id == Person.account_id)
        .where(one_of(session, Person.id, list(person_ids)))
    ).all()
    return dict(rows)


def team_emails(session: Session, emails: Sequence[str]) -> set[str]:
    return set(
        session.scalars(
            select(TeamMember.email).where(one_of(session, TeamMember.email, list(emails)))
        )
    )


def person_ids_by_email(session: Session, emails: Sequence[str]) -> dict[str, int]:
    rows = session.execute(
        select(Person.email, Person.id).where(one_of(session, Person.email, list(emails)))
    )
    return dict(rows.all())


def known_companies(
    session: Session, domains: Sequence[str], own_deals: Sequence[str]
) -> dict[str, tuple[bool, bool]]:
    """By account domain: (is a customer, has an open deal of any pipeline), leaving out the
    deals named in ``own_deals`` (a rep's deal that carries the referral itself)."""
    accounts = session.execute(
        select(Account.id, Account.domain, Account.lifecycle).where(
            one_of(session, Account.domain, list(domains))
        )
    ).all()
    if not accounts:
        return {}
    open_deals = set(
        session.scalars(
            select(Deal.account_id).where(
                one_of(session, Deal.account_id, [a.id for a in accounts]),
                Deal.closed_at.is_(None),
                Deal.crm_id.not_in(list(own_deals) or [""]),
            )
        )
    )
    found: dict[str, tuple[bool, bool]] = {}
    for account_id, domain, lifecycle in accounts:
        customer, pipeline = found.get(domain, (False, False))
        found[domain] = (customer or lifecycle == "customer", pipeline or account_id in open_deals)
    return found


def claim_domains(
    session: Session, claims: Sequence[tuple[str, int]], now: datetime
) -> dict[str, int]:
    """Claim each domain for its referral, in order (the first claim of a domain wins, also
    against a concurrent run: the domain is the primary key); returns each domain's owner."""
    insert_ignoring_conflicts(
        session,
        DomainClaim.__table__,
        [{"domain": d, "referral_id": r, "claimed_at": now} for d, r in claims],
        ["domain"],
    )
    rows = session.execute(
        select(DomainClaim.domain, DomainClaim.referral_id).where(
            one_of(session, DomainClaim.domain, [d for d, _ in claims])
        )
    ).all()
    return dict(rows)


def unrecorded_pushes(session: Session) -> list[tuple[int, str, str | None, str | None]]:
    """(referral id, outbox status, vendor reference, error) of CRM pushes delivered or failed
    whose result the referral does not hold yet."""
    rows = session.execute(
        select(
            OutboxMessage.subject_id,
            OutboxMessage.status,
            OutboxMessage.provider_id,
            OutboxMessage.last_error,
        )
        .join(Referral, Referral.id == OutboxMessage.subject_id)
        .where(
            OutboxMessage.operation == "push_referral",
            OutboxMessage.subject_type == "referral",
            OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
            Referral.pushed_at.is_(None),
        )
    ).all()
    return [(rid, str(status), ref, error) for rid, status, ref, error in rows]


def record_pushes(session: Session, results: Sequence[dict[str, Any]]) -> None:
    """``{"b_id", "b_company", "b_contact", "b_deal", "b_at", "b_error"}`` per referral."""
    if not results:
        return
    table = Referral.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            crm_company_id=func.coalesce(bindparam("b_company"), table.c.crm_company_id),
            crm_contact_id=func.coalesce(bindparam("b_contact"), table.c.crm_contact_id),
            crm_deal_id=func.coalesce(bindparam("b_deal"), table.c.crm_deal_id),
            pushed_at=bindparam("b_at", type_=table.c.pushed_at.type),
            push_error=bindparam("b_error"),
        ),
        list(results),
    )


@dataclass(frozen=True)
class Moved:
    """A pushed referral whose deal sits in a program stage, with what the referrer and the
    CSM of the referring account need to hear about it."""

    referral: Referral
    referrer: Person | None
    account: Account | None
    owner: TeamMember | None


def pushed_with_stage(session: Session, limit: int, after_id: int = 0) -> list[Moved]:
    rows = session.execute(
        select(Referral, Person, Account, TeamMember)
        .outerjoin(Person, Person.id == Referral.referrer_person_id)
        .outerjoin(Account, Account.id == Person.account_id)
        .outerjoin(TeamMember, TeamMember.id == Account.owner_id)
        .where(
            Referral.eligibility == Eligibility.ELIGIBLE,
            Referral.program_stage.is_not(None),
            Referral.id > after_id,
        )
        .order_by(Referral.id)
        .limit(limit)
    ).all()
    return [Moved(*row) for row in rows]


def feedback_not_told(session: Session) -> list[Moved]:
    """Referrals whose latest feedback step the CSM has not been told about, locked so two
    runs do not both tell it."""
    rows = session.execute(
        select(Referral, Person, Account, TeamMember)
        .outerjoin(Person, Person.id == Referral.referrer_person_id)
        .outerjoin(Account, Account.id == Person.account_id)
        .outerjoin(TeamMember, TeamMember.id == Account.owner_id)
        .where(
            Referral.feedback_step.is_not(None),
            or_(
                Referral.csm_noted_step.is_(None),
                Referral.csm_noted_step != Referral.feedback_step,
            ),
        )
        .order_by(Referral.id)
        .with_for_update(of=Referral)
    ).all()
    return [Moved(*row) for row in rows]


def templates_sent(session: Session, referral_ids: Sequence[int]) -> dict[int, set[str]]:
    rows = session.execute(
        select(OutboxMessage.subject_id, OutboxMessage.template).where(
            OutboxMessage.subject_type == "referral",
            one_of(session, OutboxMessage.subject_id, list(referral_ids)),
        )
    ).all()
    found: dict[int, set[str]] = {}
    for referral_id, template in rows:
        found.setdefault(referral_id, set()).add(template or "")
    return found
