"""What the sync could not take as it came: records set aside, and causes worth a look."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class QuarantinedRecord(Base):
    """A CRM record that could not be mapped or stored, set aside with the field and reason.

    The sync moves on (its watermark too); when the CRM changes the record it is read again,
    and a record that now maps is stored and its quarantine row removed. Reasons name ids and
    fields, never the values (they may be personal data).
    """

    __tablename__ = "crm_quarantine"
    __table_args__ = (UniqueConstraint("object_type", "crm_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(32))
    crm_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    crm_updated_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    times_seen: Mapped[int] = mapped_column(default=1)


class CrmIssue(Base):
    """One cause the program does not understand but keeps the data of (a stage outside the
    stage map, an owner not in the team...), with how many records it concerns now.

    Unique per cause, so it is reported once when it first appears, not per record or sync.
    """

    __tablename__ = "crm_issues"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    object_type: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    records: Mapped[int] = mapped_column(default=0)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
