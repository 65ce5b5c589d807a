"""Sandbox CRM: the CRM port over the sandbox tables in the app database.

It answers in HubSpot's property names (``hs_lastmodifieddate``, ``dealstage``, ...) so the sync
code reads the sandbox and HubSpot alike. It opens its own sessions and commits its own writes,
as a remote CRM would, independent of the program's transactions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, func, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import (
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
    SandboxDealStageEntry,
    SandboxOwner,
    SandboxTask,
)
from integrations.ports import (
    REFERRAL_SOURCE,
    CrmOwner,
    CrmPage,
    CrmPipeline,
    CrmRecord,
    CrmTask,
    DeliveryResult,
    PropertySpec,
    PushResult,
    ReferralPush,
)
from integrations.sandbox.portal import SANDBOX_PIPELINES

OBJECT_MODELS: dict[str, Any] = {
    "companies": SandboxCompany,
    "contacts": SandboxContact,
    "deals": SandboxDeal,
    "tasks": SandboxTask,
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


def deal_properties(
    row: SandboxDeal, entries: Sequence[SandboxDealStageEntry] = ()
) -> dict[str, Any]:
    entered = {e.stage_id: _iso(e.entered_at) for e in sorted(entries, key=lambda e: e.entered_at)}
    return {
        **{f"hs_v2_date_entered_{stage}": at for stage, at in entered.items()},
        "dealname": row.name,
        "pipeline": row.pipeline_id,
        "dealstage": row.stage_id,
        "amount": str(row.amount) if row.amount is not None else None,
        "deal_source_channel": row.source_channel,
        "createdate": _iso(row.created_at),
        f"hs_v2_date_entered_{row.stage_id}": _iso(row.stage_entered_at),
        "hubspot_owner_id": row.properties.get("hubspot_owner_id"),
        "closedate": _iso(row.closed_at),
        "hs_lastmodifieddate": _iso(row.updated_at),
        **row.properties,
    }


def task_properties(row: SandboxTask) -> dict[str, Any]:
    return {
        "hs_task_subject": row.subject,
        "hs_task_body": row.body,
        "hs_task_status": row.status,
        "hubspot_owner_id": row.owner_id,
        "hs_timestamp": _iso(row.due_at),
        "hs_task_completion_date": _iso(row.completed_at),
        "hs_lastmodifieddate": _iso(row.updated_at),
    }


class SandboxCrm:
    """The CRM port on the sandbox tables. ``now`` stamps what it writes (the demo's clock)."""

    def __init__(
        self, factory: sessionmaker[Session], now: Callable[[], datetime] | None = None
    ) -> None:
        self.factory = factory
        self.now = now or (lambda: datetime.now(UTC))
        self.calls: Counter[str] = Counter()

    def api_calls(self) -> dict[str, int]:
        return dict(self.calls)

    def changed_since(
        self,
        object_type: str,
        since: datetime,
        properties: Sequence[str] = (),
        after: str | None = None,
        limit: int = 200,
        known: Collection[str] = frozenset(),
        associations: bool = True,  # the sandbox has them at hand: always given
    ) -> CrmPage:
        model = self._model(object_type)
        self.calls[f"search {object_type}"] += 1
        offset = int(after or 0)
        query = (
            select(model)
            .where(model.updated_at >= since)
            .order_by(model.updated_at, model.id)
            .offset(offset)
            .limit(limit + 1)
        )
        records, more = self._page(object_type, query, limit)
        return CrmPage(records, str(offset + limit) if more else None)

    def changed_at(
        self,
        object_type: str,
        at: datetime,
        properties: Sequence[str] = (),
        after_id: str | None = None,
        limit: int = 200,
        associations: bool = True,
    ) -> CrmPage:
        model = self._model(object_type)
        self.calls[f"search {object_type}"] += 1
        numeric_id = func.cast(model.id, BigInteger)
        query = select(model).where(model.updated_at == at)
        if after_id is not None:
            query = query.where(numeric_id > int(after_id))
        records, more = self._page(object_type, query.order_by(numeric_id).limit(limit + 1), limit)
        return CrmPage(records, records[-1].crm_id if more else None)

    def deal_companies(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        self.calls["read deal companies"] += 1
        with self.factory() as session:
            rows = session.execute(
                select(SandboxDeal.id, SandboxDeal.company_id).where(
                    SandboxDeal.id.in_(list(deal_ids)), SandboxDeal.company_id.is_not(None)
                )
            ).all()
        return {deal_id: [company_id] for deal_id, company_id in rows}

    @staticmethod
    def _model(object_type: str) -> Any:
        model = OBJECT_MODELS.get(object_type)
        if model is None:
            raise ValueError(f"unknown CRM object type {object_type!r}")
        return model

    def _page(self, object_type: str, query: Any, limit: int) -> tuple[list[CrmRecord], bool]:
        with self.factory() as session:
            rows = session.scalars(query).all()
            page = rows[:limit]
            entries: dict[str, list[SandboxDealStageEntry]] = {}
            if object_type == "deals" and page:
                found = session.scalars(
                    select(SandboxDealStageEntry).where(
                        SandboxDealStageEntry.deal_id.in_([r.id for r in page])
                    )
                )
                for entry in found:
                    entries.setdefault(entry.deal_id, []).append(entry)
        records = [self._record(object_type, row, entries.get(row.id, [])) for row in page]
        return records, len(rows) > limit

    def _record(
        self, object_type: str, row: Any, entries: Sequence[SandboxDealStageEntry]
    ) -> CrmRecord:
        associations = {"companies": [row.company_id]} if getattr(row, "company_id", None) else {}
        if isinstance(row, SandboxCompany):
            return CrmRecord(object_type, row.id, company_properties(row), row.updated_at)
        if isinstance(row, SandboxTask):
            return CrmRecord(
                object_type, row.id, task_properties(row), row.updated_at, associations
            )
        if isinstance(row, SandboxContact):
            return CrmRecord(
                object_type, row.id, contact_properties(row), row.updated_at, associations
            )
        return CrmRecord(
            object_type, row.id, deal_properties(row, entries), row.updated_at, associations
        )

    def push_referrals(self, pushes: Sequence[ReferralPush]) -> list[PushResult]:
        self.calls["push referrals"] += 1
        now = self.now()
        with self.factory.begin() as session:
            return [self._push(session, push, now) for push in pushes]

    def find_referral_deals(self, referral_keys: Sequence[str]) -> dict[str, str | None]:
        self.calls["find referral deals"] += 1
        key = SandboxDeal.properties["referral_program_id"].as_string()
        with self.factory() as session:
            rows = session.execute(
                select(key, SandboxDeal.id).where(key.in_(list(referral_keys)))
            ).all()
        found = dict(rows)
        return {k: found.get(k) for k in referral_keys}

    def _push(self, session: Session, push: ReferralPush, now: datetime) -> PushResult:
        deal = session.scalars(
            select(SandboxDeal).where(
                SandboxDeal.properties["referral_program_id"].as_string() == push.referral_key
            )
        ).first()
        if deal is not None:  # pushed before: report what exists, create nothing
            contact_id = session.scalar(
                select(SandboxContact.id).where(SandboxContact.email == (push.contact_email or ""))
            )
            return PushResult(push.referral_key, deal.company_id, contact_id, deal.id)
        created: list[str] = []
        company = None
        rep_deal = (
            session.get(SandboxDeal, push.existing_deal_id) if push.existing_deal_id else None
        )
        if rep_deal is not None and rep_deal.company_id:
            company = session.get(SandboxCompany, rep_deal.company_id)  # the rep's company counts
        if company is None and push.company_domain:
            company = session.scalars(
                select(SandboxCompany).where(
                    func.lower(SandboxCompany.domain) == push.company_domain
                )
            ).first()
        if company is None:
            company = SandboxCompany(
                id=self._next_id(session, SandboxCompany),
                name=push.company_name,
                domain=push.company_domain,
                lifecycle="lead",
                properties={},
                created_at=now,
                updated_at=now,
            )
            session.add(company)
            session.flush()
            created.append("company")
        contact = None
        if push.contact_email:
            contact = session.scalars(
                select(SandboxContact).where(SandboxContact.email == push.contact_email)
            ).first()
            if contact is None:
                contact = SandboxContact(
                    id=self._next_id(session, SandboxContact),
                    company_id=company.id,
                    first_name=push.contact_first_name,
                    last_name=push.contact_last_name,
                    email=push.contact_email,
                    title=push.contact_title,
                    properties={},
                    created_at=now,
                    updated_at=now,
                )
                session.add(contact)
                session.flush()
                created.append("contact")
        program_properties = {
            "referral_program_id": push.referral_key,
            "referred_by_email": push.referred_by_email,
            "referral_source": REFERRAL_SOURCE,
            "referrer_type": push.referrer_type,
        }
        if push.existing_deal_id:
            deal = session.get(SandboxDeal, push.existing_deal_id)
            if deal is None:
                return PushResult(
                    push.referral_key, error=f"deal {push.existing_deal_id} does not exist"
                )
            deal.properties = {**deal.properties, **program_properties}
            deal.updated_at = now
        else:
            owner = {"hubspot_owner_id": push.owner_id} if push.owner_id else {}
            deal = SandboxDeal(
                id=self._next_id(session, SandboxDeal),
                company_id=company.id,
                name=push.deal_name,
                pipeline_id=push.pipeline_id,
                stage_id=push.stage_id,
                amount=None,
                source_channel="client_referral",
                properties={**program_properties, **owner},
                created_at=now,
                stage_entered_at=now,
                closed_at=None,
                updated_at=now,
            )
            session.add(deal)
            session.flush()
            session.add(
                SandboxDealStageEntry(deal_id=deal.id, stage_id=push.stage_id, entered_at=now)
            )
            created.append("deal")
        session.flush()
        return PushResult(
            push.referral_key,
            company.id,
            contact.id if contact else None,
            deal.id,
            tuple(created),
        )

    @staticmethod
    def _next_id(session: Session, model: Any) -> str:
        # Numeric string ids like HubSpot's; the sandbox has one writer at a time (the demo).
        highest = session.scalar(select(func.max(func.cast(model.id, BigInteger))))
        return str(max(int(highest or 0), 900000) + 1)

    def create_tasks(self, tasks: Sequence[CrmTask]) -> list[DeliveryResult]:
        self.calls["create tasks"] += 1
        now = self.now()
        with self.factory.begin() as session:
            known = self._task_ids(session, [t.dedupe_key for t in tasks])
            next_id = int(self._next_id(session, SandboxTask))
            for task in tasks:
                if task.dedupe_key in known:
                    continue
                known[task.dedupe_key] = str(next_id)
                session.add(
                    SandboxTask(
                        id=str(next_id),
                        idempotency_key=task.dedupe_key,
                        subject=task.subject[:300],
                        body=task.body,
                        owner_id=task.owner_id,
                        company_id=task.company_id,
                        contact_id=task.contact_id,
                        status="NOT_STARTED",
                        due_at=task.due_at,
                        created_at=now,
                        updated_at=now,
                    )
                )
                next_id += 1
        return [DeliveryResult(t.dedupe_key, provider_id=known[t.dedupe_key]) for t in tasks]

    def find_tasks(self, dedupe_keys: Sequence[str]) -> dict[str, str | None]:
        with self.factory() as session:
            known = self._task_ids(session, dedupe_keys)
        return {key: known.get(key) for key in dedupe_keys}

    @staticmethod
    def _task_ids(session: Session, keys: Sequence[str]) -> dict[str, str]:
        rows = session.execute(
            select(SandboxTask.idempotency_key, SandboxTask.id).where(
                SandboxTask.idempotency_key.in_(keys)
            )
        ).all()
        return {key: task_id for key, task_id in rows}

    def complete_task(self, task_id: str) -> None:
        """What a CSM does in the CRM when the ask is done (demo and tests)."""
        now = self.now()
        with self.factory.begin() as session:
            task = session.get(SandboxTask, task_id)
            if task is not None and task.status != "COMPLETED":
                task.status, task.completed_at, task.updated_at = "COMPLETED", now, now

    def owners(self) -> list[CrmOwner]:
        self.calls["owners"] += 1
        with self.factory() as session:
            rows = session.scalars(
                select(SandboxOwner)
                .where(SandboxOwner.archived.is_(False))
                .order_by(SandboxOwner.id)
            ).all()
        return [
            CrmOwner(
                row.id,
                row.email,
                row.first_name,
                row.last_name,
                (row.team,) if row.team else (),
            )
            for row in rows
        ]

    def pipelines(self) -> list[CrmPipeline]:
        self.calls["pipelines"] += 1
        return list(SANDBOX_PIPELINES)

    def setup(self, properties: Mapping[str, Sequence[PropertySpec]]) -> list[str]:
        """The sandbox stores any property: nothing to create."""
        self.calls["setup"] += 1
        return []
