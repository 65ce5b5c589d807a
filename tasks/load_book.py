"""Load a synthetic book of business into the sandbox CRM: its owners (the team), companies,
contacts and deals.

The program then learns about all of it the way it would in production: by syncing the CRM
(owners become team members with no role) and by an admin's team file (roles and Slack ids:
``simulation.team_file`` writes it, ``referrals team import`` applies it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import book as repo
from simulation.book import Book


@dataclass(frozen=True)
class BookCounts:
    team: int
    companies: int
    contacts: int
    deals: int
    signals: int


def load_book(factory: sessionmaker[Session], book: Book) -> BookCounts:
    owners = [
        {
            "id": m.crm_owner_id,
            "email": m.email,
            "first_name": m.name.split(" ", 1)[0],
            "last_name": m.name.split(" ", 1)[1] if " " in m.name else "",
            "team": m.team,
            "archived": False,
            "updated_at": datetime.combine(book.start, datetime.min.time(), UTC),
        }
        for m in book.team
    ]
    companies = [
        {
            "id": c.crm_id,
            "name": c.name,
            "domain": c.domain,
            "segment": c.segment,
            "industry": c.industry,
            "lifecycle": c.lifecycle,
            "owner_id": c.owner_crm_id,
            "onboarding_completed_at": c.onboarding_completed_at,
            "renewal_date": c.renewal_date,
            "health_score": c.health_score,
            "properties": {},
            "created_at": c.created_at,
            "updated_at": max(filter(None, [c.created_at, c.onboarding_completed_at])),
        }
        for c in book.companies
    ]
    contacts = [
        {
            "id": p.crm_id,
            "company_id": p.company_crm_id,
            "first_name": p.first_name,
            "last_name": p.last_name,
            "email": p.email,
            "title": p.title,
            "linkedin_followers": p.linkedin_followers,
            "speaks_at_events": p.speaks_at_events,
            "opted_out": p.opted_out,
            "properties": {},
            "created_at": p.created_at,
            "updated_at": p.created_at,
        }
        for p in book.contacts
    ]
    deals = [
        {
            "id": d.crm_id,
            "company_id": d.company_crm_id,
            "name": d.name,
            "pipeline_id": d.pipeline_id,
            "stage_id": d.stage_id,
            "amount": d.amount,
            "source_channel": d.source_channel,
            "properties": dict(d.properties),
            "created_at": d.created_at,
            "stage_entered_at": d.stage_entered_at,
            "closed_at": d.closed_at,
            "updated_at": max(
                filter(None, [d.stage_entered_at, d.closed_at, *_times(d.properties)])
            ),
        }
        for d in book.deals
    ]
    stage_entries = [
        {"deal_id": d.crm_id, "stage_id": d.stage_id, "entered_at": d.stage_entered_at}
        for d in book.deals
    ]
    with transaction(factory) as session:
        repo.upsert_sandbox_owners(session, owners)
        repo.upsert_sandbox_records(session, companies, contacts, deals, stage_entries)
    return BookCounts(len(owners), len(companies), len(contacts), len(deals), len(book.signals))


def _times(properties: tuple[tuple[str, str], ...]) -> list[datetime]:
    return [datetime.fromisoformat(value) for _, value in properties]
