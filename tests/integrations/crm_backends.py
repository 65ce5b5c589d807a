"""The two CRM backends the contract suite runs on, behind one seeding interface.

Seeding speaks HubSpot's property names; the sandbox backend writes its tables, the HubSpot
backend seeds the local fake server that the real SDK talks to.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.models import (
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
    SandboxDealStageEntry,
    SandboxOwner,
    SandboxTask,
)
from domain.stages import DEFAULT_PIPELINE_ID
from integrations.hubspot.factory import build_hubspot_crm
from integrations.ports import Crm, program_properties
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.portal import SANDBOX_PIPELINES
from tests.fakes.hubspot_server import FakeHubSpot


class SandboxBackend:
    name = "sandbox"

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.crm: Crm = SandboxCrm(factory)
        self._next = 100

    def _id(self) -> str:
        self._next += 1
        return str(self._next)

    def add_company(self, at: datetime, name: str, domain: str | None = None, **extra: Any) -> str:
        crm_id = self._id()
        with self.factory.begin() as session:
            session.add(
                SandboxCompany(
                    id=crm_id,
                    name=name,
                    domain=domain,
                    lifecycle="customer",
                    segment=extra.get("segment"),
                    health_score=extra.get("health_score"),
                    owner_id=extra.get("hubspot_owner_id"),
                    properties={},
                    created_at=at,
                    updated_at=at,
                )
            )
        return crm_id

    def add_contact(
        self,
        at: datetime,
        email: str,
        company_id: str | None,
        jobtitle: str | None = None,
        firstname: str = "Ana",
    ) -> str:
        crm_id = self._id()
        with self.factory.begin() as session:
            session.add(
                SandboxContact(
                    id=crm_id,
                    company_id=company_id,
                    first_name=firstname,
                    last_name="Lima",
                    email=email,
                    title=jobtitle,
                    properties={},
                    created_at=at,
                    updated_at=at,
                )
            )
        return crm_id

    def add_owner(self, email: str, first: str, last: str, team: str | None = None) -> str:
        crm_id = self._id()
        with self.factory.begin() as session:
            session.add(
                SandboxOwner(
                    id=crm_id,
                    email=email,
                    first_name=first,
                    last_name=last,
                    team=team,
                    updated_at=datetime.now(UTC),
                )
            )
        return crm_id

    def add_deal(
        self,
        at: datetime,
        name: str,
        stage_id: str,
        company_id: str | None,
        amount: str | None = None,
        pipeline: str = DEFAULT_PIPELINE_ID,
        **properties: str,
    ) -> str:
        crm_id = self._id()
        with self.factory.begin() as session:
            session.add(
                SandboxDeal(
                    id=crm_id,
                    company_id=company_id,
                    name=name,
                    pipeline_id=pipeline,
                    stage_id=stage_id,
                    amount=Decimal(amount) if amount else None,
                    source_channel="inbound",
                    properties=dict(properties),
                    created_at=at,
                    stage_entered_at=at,
                    closed_at=None,
                    updated_at=at,
                )
            )
            session.flush()
            session.add(SandboxDealStageEntry(deal_id=crm_id, stage_id=stage_id, entered_at=at))
        return crm_id

    def touch_company(self, company_id: str, at: datetime) -> None:
        with self.factory.begin() as session:
            company = session.get(SandboxCompany, company_id)
            assert company is not None
            company.industry, company.updated_at = "edited", at

    def set_properties(self, object_type: str, crm_id: str, values: dict[str, Any], at: datetime):
        """Properties as the CRM would send them (raw text, even nonsense)."""
        model = {"companies": SandboxCompany, "contacts": SandboxContact, "deals": SandboxDeal}
        with self.factory.begin() as session:
            row = session.get(model[object_type], crm_id)
            assert row is not None
            values = dict(values)
            if object_type == "contacts" and "email" in values:  # a real (unique) column
                row.email = values.pop("email")
                session.flush()
            row.properties, row.updated_at = {**row.properties, **values}, at

    def move_deal(self, deal_id: str, stage_id: str, at: datetime) -> None:
        with self.factory.begin() as session:
            deal = session.get(SandboxDeal, deal_id)
            assert deal is not None
            deal.stage_id, deal.stage_entered_at, deal.updated_at = stage_id, at, at
            session.add(SandboxDealStageEntry(deal_id=deal_id, stage_id=stage_id, entered_at=at))

    def add_task(self, at: datetime, subject: str) -> str:
        crm_id = self._id()
        with self.factory.begin() as session:
            session.add(
                SandboxTask(
                    id=crm_id,
                    idempotency_key=f"t-{crm_id}",
                    subject=subject,
                    status="NOT_STARTED",
                    created_at=at,
                    updated_at=at,
                )
            )
        return crm_id

    def complete_task(self, task_id: str, at: datetime) -> None:
        with self.factory.begin() as session:
            task = session.get(SandboxTask, task_id)
            assert task is not None
            task.status, task.completed_at, task.updated_at = "COMPLETED", at, at

    def search_calls(self) -> dict[str, int]:
        calls = self.crm.api_calls()
        return {t: calls.get(f"search {t}", 0) for t in ("companies", "contacts", "deals", "tasks")}


class HubSpotBackend:
    name = "hubspot"

    def __init__(self, fake: FakeHubSpot, slept: list[float]) -> None:
        self.fake = fake
        self.crm = build_hubspot_crm(
            fake.token,
            fake.base_url,
            calls_per_10s=1000,
            searches_per_second=100,
            sleep=slept.append,
        )
        self.crm.setup(program_properties(["onboarding_started_date", "first_payment_date"]))
        # The same portal as the sandbox's: HubSpot's default pipeline and a renewals one.
        for pipeline in SANDBOX_PIPELINES[1:]:
            fake.add_pipeline(
                pipeline.id,
                pipeline.label,
                [(s.id, s.label, s.closed, s.won) for s in pipeline.stages],
            )

    def add_company(self, at: datetime, name: str, domain: str | None = None, **extra: Any) -> str:
        props = {
            "name": name,
            **({"domain": domain} if domain else {}),
            **{k: str(v) for k, v in extra.items()},
        }
        return self.fake.add_company(props, updated_at=at)

    def add_contact(
        self,
        at: datetime,
        email: str,
        company_id: str | None,
        jobtitle: str | None = None,
        firstname: str = "Ana",
    ) -> str:
        props = {
            "email": email,
            "firstname": firstname,
            "lastname": "Lima",
            **({"jobtitle": jobtitle} if jobtitle else {}),
        }
        return self.fake.add_contact(props, company_id=company_id, updated_at=at)

    def add_owner(self, email: str, first: str, last: str, team: str | None = None) -> str:
        return self.fake.add_owner(email, first, last, teams=[team] if team else [])

    def add_deal(
        self,
        at: datetime,
        name: str,
        stage_id: str,
        company_id: str | None,
        amount: str | None = None,
        pipeline: str = DEFAULT_PIPELINE_ID,
        **properties: str,
    ) -> str:
        props = {
            "dealname": name,
            "pipeline": pipeline,
            "dealstage": stage_id,
            **({"amount": amount} if amount else {}),
            **properties,
        }
        deal_id = self.fake.add_deal(props, company_id=company_id, updated_at=at)
        self.fake.move_deal(deal_id, stage_id, at)
        return deal_id

    def move_deal(self, deal_id: str, stage_id: str, at: datetime) -> None:
        self.fake.move_deal(deal_id, stage_id, at)

    def touch_company(self, company_id: str, at: datetime) -> None:
        self.fake.set_properties("companies", company_id, {"industry": "edited"}, at)

    def set_properties(self, object_type: str, crm_id: str, values: dict[str, Any], at: datetime):
        self.fake.set_properties(object_type, crm_id, values, at)

    def add_task(self, at: datetime, subject: str) -> str:
        return self.fake.add_task(
            {
                "hs_task_subject": subject,
                "hs_task_status": "NOT_STARTED",
                "hs_timestamp": at.isoformat(),
                "referral_outbox_key": f"crm-task:test:{subject}",
            },
            updated_at=at,
        )

    def complete_task(self, task_id: str, at: datetime) -> None:
        self.fake.set_properties("tasks", task_id, {"hs_task_status": "COMPLETED"}, at)

    def search_calls(self) -> dict[str, int]:
        calls = self.crm.api_calls()
        return {
            t: calls.get(f"POST /crm/v3/objects/{t}/search", 0)
            for t in ("companies", "contacts", "deals", "tasks")
        }


def hubspot_backend(clock: list[datetime]) -> Iterator[tuple[HubSpotBackend, list[float]]]:
    slept: list[float] = []
    with FakeHubSpot(now=lambda: clock[0]) as fake:
        yield HubSpotBackend(fake, slept), slept
