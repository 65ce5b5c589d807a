"""Who may not be written to, and how often the public pages may be used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Suppression(Base):
    """An address nothing is sent to any more: unsubscribed, bounced, dropped, spam report.
    Every send path checks it when it enqueues and again when it dispatches."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))  # unsubscribe | bounce | dropped | spamreport
    source: Mapped[str] = mapped_column(String(32))  # link | sendgrid | cli
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class RateCounter(Base):
    """Requests per bucket (an IP, a code) and time window, counted in the database so the
    limits hold across several web processes."""

    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
