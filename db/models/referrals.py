"""Referrals, the deals they become, and every stage a deal passes through."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, TimestampMixin
from domain.stages import ProgramStage
from domain.statuses import Eligibility, ReferralChannel


class Deal(TimestampMixin, Base):
    """A CRM deal, referred or not, in any pipeline and stage: other channels are kept so
    reports can compare. ``program_stage`` is None when the stage map does not cover the
    deal's pipeline or stage (the sync flags that once per stage)."""

    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    pipeline_id: Mapped[str] = mapped_column(String(64))
    crm_stage_id: Mapped[str] = mapped_column(String(64))
    program_stage: Mapped[ProgramStage | None]
    amount: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    owner_crm_id: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("team_members.id"), index=True)
    source_channel: Mapped[str] = mapped_column(String(32), default="unknown")
    referral_key: Mapped[str | None] = mapped_column(String(200), index=True)
    reopened_at: Mapped[datetime | None]
    crm_created_at: Mapped[datetime | None]
    stage_entered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    crm_updated_at: Mapped[datetime | None]


class Referral(TimestampMixin, Base):
    """An intro: who referred whom, by which share path, and what the rules decided."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    referrer_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    referrer_type_key: Mapped[str] = mapped_column(String(32))
    referral_link_id: Mapped[int | None] = mapped_column(ForeignKey("referral_links.id"))
    ask_id: Mapped[int | None] = mapped_column(ForeignKey("asks.id"))
    channel: Mapped[ReferralChannel]
    code: Mapped[str | None] = mapped_column(String(32))
    attribution: Mapped[dict[str, Any]] = mapped_column(default=dict)
    referred_company_name: Mapped[str] = mapped_column(String(300))
    referred_domain: Mapped[str | None] = mapped_column(String(253), index=True)
    referred_first_name: Mapped[str] = mapped_column(String(100), default="")
    referred_last_name: Mapped[str] = mapped_column(String(100), default="")
    referred_email: Mapped[str | None] = mapped_column(String(320), index=True)
    referred_title: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    referred_industry: Mapped[str | None] = mapped_column(String(128))
    referrer_email: Mapped[str | None] = mapped_column(String(320))  # as captured
    eligibility: Mapped[Eligibility] = mapped_column(default=Eligibility.PENDING, index=True)
    reason_codes: Mapped[list[Any]] = mapped_column(default=list)
    decision_text: Mapped[str | None] = mapped_column(Text)  # the decision, for a person
    disclosure: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    reviewed_by: Mapped[str | None] = mapped_column(String(320))
    reviewed_at: Mapped[datetime | None]
    review_reason: Mapped[str | None] = mapped_column(Text)
    pushed_at: Mapped[datetime | None]  # the CRM has its company, contact and deal
    push_error: Mapped[str | None] = mapped_column(Text)
    crm_company_id: Mapped[str | None] = mapped_column(String(64))
    crm_contact_id: Mapped[str | None] = mapped_column(String(64))
    crm_deal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    program_stage: Mapped[ProgramStage | None]
    # The feedback step (an email template) last handled for the referrer, and the last one
    # the CSM was told about: the Slack note is built from the gap, so it is never lost or
    # repeated whatever happens between the two.
    feedback_step: Mapped[str | None] = mapped_column(String(40))
    csm_noted_step: Mapped[str | None] = mapped_column(String(40))
    submitted_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class StageEvent(Base):
    """One entry of a deal into a stage. History only grows; the CRM stays the truth."""

    __tablename__ = "stage_events"
    __table_args__ = (UniqueConstraint("deal_id", "crm_stage_id", "entered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    crm_stage_id: Mapped[str] = mapped_column(String(64))
    program_stage: Mapped[ProgramStage | None]
    previous_program_stage: Mapped[ProgramStage | None]
    entered_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class DomainClaim(Base):
    """The first valid referral of a company (by registrable domain) owns it: later ones are
    duplicates pointing here. A primary key, so two racing referrals get one winner."""

    __tablename__ = "referral_domain_claims"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"))
    claimed_at: Mapped[datetime]
