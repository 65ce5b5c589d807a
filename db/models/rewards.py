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
    """One reward (or one part of a staged reward) owed for one referral under one rule."""

    __tablename__ = "rewards"
    __table_args__ = (UniqueConstraint("referral_id", "rule_key", "part_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    referrer_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    rule_key: Mapped[str] = mapped_column(String(64))
    part_index: Mapped[int] = mapped_column(default=0)
    reward_type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    status: Mapped[RewardStatus] = mapped_column(default=RewardStatus.PENDING, index=True)
    qualifying_stage: Mapped[ProgramStage]
    qualified_at: Mapped[datetime | None]
    release_after: Mapped[datetime | None] = mapped_column(index=True)
    clawback_until: Mapped[datetime | None]
    needs_approval: Mapped[bool] = mapped_column(default=False)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
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
