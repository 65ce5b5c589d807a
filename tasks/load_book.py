"""Load a synthetic book of business: the team into the program, the rest into the sandbox CRM.

The program then learns about accounts, people and deals the way it would in production: by
syncing the CRM.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import book as repo
from domain.statuses import TeamRole
from simulation.book import Book


@dataclass(frozen=True)
class BookCounts:
    team: int
    companies: int
    contacts: int
    deals: int
    signals: int


def load_book(factory: sessionmaker[Session], book: Book) -> BookCounts:
    team = [
        {
            "email": m.email,
            "name": m.name,
            "team": m.team,
            "role": TeamRole(m.role),
            "crm_owner_id": m.crm_owner_id,
            "slack_user_id": m.slack_user_id,
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
            "properties": {},
            "created_at": d.created_at,
            "stage_entered_at": d.stage_entered_at,
            "closed_at": d.closed_at,
            "updated_at": max(filter(None, [d.stage_entered_at, d.closed_at])),
        }
        for d in book.deals
    ]
    stage_entries = [
        {"deal_id": d.crm_id, "stage_id": d.stage_id, "entered_at": d.stage_entered_at}
        for d in book.deals
    ]
    with transaction(factory) as session:
        repo.upsert_team(session, team)
        repo.upsert_sandbox_records(session, companies, contacts, deals, stage_entries)
    return BookCounts(len(team), len(companies), len(contacts), len(deals), len(book.signals))
