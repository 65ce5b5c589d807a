"""Who the program works with: team members, client accounts and their people."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, TimestampMixin
from domain.statuses import Seniority, TeamRole


class TeamMember(TimestampMixin, Base):
    """A CSM, rep, approver or admin. Most come from the CRM's owners (``crm_owner_id``);
    ``role`` and the Slack id are set by a person and never overwritten by a sync."""

    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[TeamRole | None]  # None: not in the program yet (a CRM owner nobody placed)
    crm_owner_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    slack_lookup_error: Mapped[str | None] = mapped_column(String(200))
    slack_checked_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)


class ReferrerType(TimestampMixin, Base):
    """Kinds of referrer (client, partner, employee...); their rules live in program.yaml."""

    __tablename__ = "referrer_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(100))


class Account(TimestampMixin, Base):
    """A company in the CRM: a client whose people may refer, or a prospect."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    segment: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(128))
    lifecycle: Mapped[str] = mapped_column(String(32), default="customer")
    owner_crm_id: Mapped[str | None] = mapped_column(String(64), index=True)  # as the CRM says
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("team_members.id"), index=True)
    onboarding_completed_at: Mapped[datetime | None]
    renewal_date: Mapped[date | None]
    health_score: Mapped[int | None]
    escalation_open: Mapped[bool] = mapped_column(default=False)
    churn_risk: Mapped[bool] = mapped_column(default=False)
    crm_updated_at: Mapped[datetime | None]


class Person(TimestampMixin, Base):
    """A contact at an account: a possible champion and referrer."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    crm_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(320))
    title: Mapped[str | None] = mapped_column(String(200))
    seniority: Mapped[Seniority] = mapped_column(default=Seniority.UNKNOWN)
    linkedin_followers: Mapped[int] = mapped_column(default=0)
    speaks_at_events: Mapped[bool] = mapped_column(default=False)
    opted_out: Mapped[bool] = mapped_column(default=False)
    opted_out_at: Mapped[datetime | None]
    crm_updated_at: Mapped[datetime | None]
