"""Tables of the sandbox CRM: the embedded stand-in for HubSpot, kept in the app database.

They are owned by the sandbox adapter only; the program reads them through the CRM port,
exactly as it reads HubSpot, so the demo exercises the same code paths.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class SandboxCompany(Base):
    __tablename__ = "sbx_companies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    segment: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(128))
    lifecycle: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    onboarding_completed_at: Mapped[datetime | None]
    renewal_date: Mapped[date | None]
    health_score: Mapped[int | None]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class SandboxContact(Base):
    __tablename__ = "sbx_contacts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_id: Mapped[str | None] = mapped_column(ForeignKey("sbx_companies.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    title: Mapped[str | None] = mapped_column(String(200))
    linkedin_followers: Mapped[int] = mapped_column(default=0)
    speaks_at_events: Mapped[bool] = mapped_column(default=False)
    opted_out: Mapped[bool] = mapped_column(default=False)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class SandboxDeal(Base):
    __tablename__ = "sbx_deals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_id: Mapped[str | None] = mapped_column(ForeignKey("sbx_companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    pipeline_id: Mapped[str] = mapped_column(String(64))
    stage_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal | None]
    source_channel: Mapped[str] = mapped_column(String(32))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    stage_entered_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class SandboxDealStageEntry(Base):
    __tablename__ = "sbx_deal_stage_history"
    __table_args__ = (UniqueConstraint("deal_id", "stage_id", "entered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[str] = mapped_column(ForeignKey("sbx_deals.id"), index=True)
    stage_id: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime]


class SandboxTask(Base):
    """A CRM task; ``idempotency_key`` makes a repeated create return the first one."""

    __tablename__ = "sbx_tasks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[str | None] = mapped_column(String(64))
    company_id: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="NOT_STARTED")
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]


class SandboxOwner(Base):
    """A CRM user who can own records (HubSpot's owners): the team comes from here."""

    __tablename__ = "sbx_owners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    team: Mapped[str | None] = mapped_column(String(64))
    archived: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]
