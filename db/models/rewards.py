"""Rewards and their append-only ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, TimestampMixin
from domain.stages import ProgramStage
from domain.statuses import LedgerEntry, RewardStatus


class Reward(TimestampMixin, Base):
    """One reward (or one part of a staged reward) owed for one referral under one rule.

    The unique key (referral, rule, part) is what makes accrual and release exactly once:
    every run proposes the same rows and the database keeps the first."""

    __tablename__ = "rewards"
    __table_args__ = (UniqueConstraint("referral_id", "rule_key", "part_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    referrer_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    recipient_email: Mapped[str | None] = mapped_column(String(320), index=True)
    rule_key: Mapped[str] = mapped_column(String(64))
    part_index: Mapped[int] = mapped_column(default=0)
    parts: Mapped[int] = mapped_column(default=1)
    reward_type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    full_amount: Mapped[Decimal] = mapped_column(default=Decimal(0))  # all parts, as computed
    basis_amount: Mapped[Decimal | None]  # the deal amount it was computed from
    computation: Mapped[str] = mapped_column(Text, default="")  # how, for a person
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[RewardStatus] = mapped_column(default=RewardStatus.PENDING, index=True)
    qualifying_stage: Mapped[ProgramStage]  # this part's stage
    delay_days: Mapped[int] = mapped_column(default=0)
    qualified_at: Mapped[datetime | None]  # the CRM's own entry time of that stage
    release_after: Mapped[datetime | None] = mapped_column(index=True)
    clawback_until: Mapped[datetime | None]
    needs_approval: Mapped[bool] = mapped_column(default=False)
    wait_reason: Mapped[str | None] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    net_amount: Mapped[Decimal | None]  # what finance pays: amount less what is recovered
    export_batch: Mapped[int | None] = mapped_column(index=True)
    paid_at: Mapped[datetime | None]
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(200))


class RewardLedgerEntry(Base):
    """Every money movement of a reward. Rows are never updated or deleted (enforced by
    database triggers created in the migration), so the ledger is an audit trail."""

    __tablename__ = "reward_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"), index=True)
    entry: Mapped[LedgerEntry]
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)


class TaxForm(Base):
    """A recipient whose tax form finance has on file: cash-like rewards over the program's
    threshold wait for one."""

    __tablename__ = "tax_forms"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class RewardExport(Base):
    """A numbered batch of released rewards handed to finance."""

    __tablename__ = "reward_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int]
    total: Mapped[Decimal]
    file_name: Mapped[str] = mapped_column(String(500))
