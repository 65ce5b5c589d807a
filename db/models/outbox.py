"""The outbox: every outbound effect is a row here before it is anything else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from domain.statuses import OutboxChannel, OutboxStatus


class OutboxMessage(Base):
    """One email, chat message, CRM write or reward release waiting to happen (or done).

    ``dedupe_key`` is built from stable ids and ISO dates by the code that enqueues, and is
    unique: enqueueing the same effect twice is a no-op. The payload is fully rendered at
    enqueue time so what is sent is what the state change decided.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # What was sent about an ask, referral or reward: looked up by subject every run.
        Index("ix_outbox_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[OutboxChannel]
    operation: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # The last attempt may have reached the vendor (its answer was lost): ask the vendor
    # what it has before sending again.
    verify_first: Mapped[bool] = mapped_column(default=False, server_default=false())
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    # Set (and committed) by the dispatcher right before it hands the row to the vendor, under
    # its claim: after a crash, a claimed row without it was never sent and is simply queued
    # again; only a row with it may have reached the vendor and needs the vendor's word.
    send_started_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(36), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
