"""Sandbox CRM: the CRM port over the sandbox tables in the app database.

It answers in HubSpot's property names (``hs_lastmodifieddate``, ``dealstage``, ...) so the sync
code reads the sandbox and HubSpot alike. It opens its own sessions and commits its own writes,
as a remote CRM would, independent of the program's transactions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import SandboxCompany, SandboxContact, SandboxDeal
from integrations.ports import CrmPage, CrmRecord

OBJECT_MODELS: dict[str, type[SandboxCompany] | type[SandboxContact] | type[SandboxDeal]] = {
    "companies": SandboxCompany,
    "contacts": SandboxContact,
    "deals": SandboxDeal,
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def company_properties(row: SandboxCompany) -> dict[str, Any]:
    return {
        "name": row.name,
        "domain": row.domain,
        "industry": row.industry,
        "segment": row.segment,
        "lifecyclestage": row.lifecycle,
        "hubspot_owner_id": row.owner_id,
        "onboarding_completed_at": _iso(row.onboarding_completed_at),
        "renewal_date": row.renewal_date.isoformat() if row.renewal_date else None,
        "health_score": row.health_score,
        "createdate": _iso(row.created_at),
        "hs_lastmodifieddate": _iso(row.updated_at),
        **row.properties,
    }


def contact_properties(row: SandboxContact) -> dict[str, Any]:
    return {
        "firstname": row.first_name,
        "lastname": row.last_name,
        "email": row.email,
        "jobtitle": row.title,
        "linkedin_followers": row.linkedin_followers,
        "speaks_at_events": row.speaks_at_events,
        "hs_email_optout": row.opted_out,
        "associatedcompanyid": row.company_id,
        "createdate": _iso(row.created_at),
        "lastmodifieddate": _iso(row.updated_at),
        **row.properties,
    }


def deal_properties(row: SandboxDeal) -> dict[str, Any]:
    return {
        "dealname": row.name,
        "pipeline": row.pipeline_id,
        "dealstage": row.stage_id,
        "amount": str(row.amount) if row.amount is not None else None,
        "deal_source_channel": row.source_channel,
        "createdate": _iso(row.created_at),
        f"hs_v2_date_entered_{row.stage_id}": _iso(row.stage_entered_at),
        "closedate": _iso(row.closed_at),
        "hs_lastmodifieddate": _iso(row.updated_at),
        **row.properties,
    }


class SandboxCrm:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def changed_since(
        self, object_type: str, since: datetime, after: str | None = None, limit: int = 200
    ) -> CrmPage:
        model = OBJECT_MODELS.get(object_type)
        if model is None:
            raise ValueError(f"unknown CRM object type {object_type!r}")
        offset = int(after or 0)
        with self.factory() as session:
            rows = session.scalars(
                select(model)
                .where(model.updated_at >= since)
                .order_by(model.updated_at, model.id)
                .offset(offset)
                .limit(limit + 1)
            ).all()
        more = len(rows) > limit
        records = [self._record(object_type, row) for row in rows[:limit]]
        return CrmPage(records, str(offset + limit) if more else None)

    def _record(self, object_type: str, row: Any) -> CrmRecord:
        if isinstance(row, SandboxCompany):
            return CrmRecord(object_type, row.id, company_properties(row), row.updated_at)
        if isinstance(row, SandboxContact):
            associations = {"companies": [row.company_id]} if row.company_id else {}
            return CrmRecord(
                object_type, row.id, contact_properties(row), row.updated_at, associations
            )
        associations = {"companies": [row.company_id]} if row.company_id else {}
        return CrmRecord(object_type, row.id, deal_properties(row), row.updated_at, associations)
