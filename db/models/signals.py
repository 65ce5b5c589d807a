"""Signals in, moments out: the facts and the good times to ask."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from domain.signals import SignalKind, SignalSource
from domain.statuses import MomentStatus


class Signal(Base):
    """One fact about a client relationship, from the CRM, a file or the CLI.

    Accounts and people are kept by their external references (CRM id, email) so a signal can
    arrive before the CRM sync has seen its account; the foreign keys are filled in at ingest
    when it has, else by the next detect-moments (``signals.link_waiting``)."""

    __tablename__ = "signals"
    __table_args__ = (
        Index("ix_signals_account_crm_id_occurred_at", "account_crm_id", "occurred_at"),
        # detect-moments reads the oldest unchecked signals with an account, batch by batch
        Index(
            "ix_signals_unchecked",
            "occurred_at",
            "id",
            postgresql_where=text("moment_checked_at IS NULL AND account_id IS NOT NULL"),
            sqlite_where=text("moment_checked_at IS NULL AND account_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[SignalKind]
    source: Mapped[SignalSource]
    account_crm_id: Mapped[str] = mapped_column(String(64))
    person_email: Mapped[str | None] = mapped_column(String(320), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    value: Mapped[Decimal | None]
    text: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    ingested_at: Mapped[datetime]
    moment_checked_at: Mapped[datetime | None]  # when detect-moments looked at it


class Moment(Base):
    """A good moment to ask an account for an intro, detected from a signal."""

    __tablename__ = "moments"
    __table_args__ = (UniqueConstraint("account_id", "trigger", "window_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(32))
    window_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[MomentStatus] = mapped_column(default=MomentStatus.DETECTED)
    suppressed_reason: Mapped[str | None] = mapped_column(String(64))
    detected_at: Mapped[datetime]
