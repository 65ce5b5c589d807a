"""Asks: one CSM asking one champion for an intro, with the words to use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, TimestampMixin
from domain.statuses import AskStatus


class ReferralLink(Base):
    """A referrer's personal link and code; the code is what attribution hangs on."""

    __tablename__ = "referral_links"
    __table_args__ = (UniqueConstraint("person_id", "referrer_type_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    referrer_type_key: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Ask(TimestampMixin, Base):
    __tablename__ = "asks"
    __table_args__ = (UniqueConstraint("moment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    moment_id: Mapped[int] = mapped_column(ForeignKey("moments.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    champion_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    csm_id: Mapped[int] = mapped_column(ForeignKey("team_members.id"), index=True)
    referral_link_id: Mapped[int | None] = mapped_column(ForeignKey("referral_links.id"))
    status: Mapped[AskStatus] = mapped_column(default=AskStatus.PENDING, index=True)
    priority: Mapped[int] = mapped_column(default=0)
    score: Mapped[float] = mapped_column(default=0.0)
    score_parts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    week_key: Mapped[str] = mapped_column(String(10))  # ISO week the ask counts against
    created_for: Mapped[datetime]  # program time the ask was made (the injectable clock)
    due_at: Mapped[datetime]
    script: Mapped[str] = mapped_column(Text, default="")
    draft_subject: Mapped[str] = mapped_column(String(200), default="")
    draft_body: Mapped[str] = mapped_column(Text, default="")
    prompted_at: Mapped[datetime | None]
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_message_ts: Mapped[str | None] = mapped_column(String(32))
    crm_task_id: Mapped[str | None] = mapped_column(String(64))
    resurfaced_at: Mapped[datetime | None]
    outcome_at: Mapped[datetime | None]
    outcome_note: Mapped[str | None] = mapped_column(Text)
