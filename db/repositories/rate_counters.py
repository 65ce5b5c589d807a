"""Counters of requests per bucket (a hashed client IP, a referral code) and time window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from db.models import RateCounter
from db.repositories.upsert import dialect_insert


def count_hit(session: Session, bucket: str, window_start: datetime) -> int:
    """Add one hit to the bucket's window and return its new count.

    One INSERT ... ON CONFLICT DO UPDATE ... RETURNING: atomic on PostgreSQL (row lock) and
    SQLite (the write lock), so concurrent web processes never lose a hit.
    """
    table = RateCounter.__table__
    statement = (
        dialect_insert(session, table)
        .values(bucket=bucket, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=["bucket", "window_start"], set_={"count": table.c.count + 1}
        )
        .returning(table.c.count)
    )
    return int(session.execute(statement).scalar_one())


def forget_windows_before(session: Session, cutoff: datetime) -> None:
    """Drop counters of windows that ended: they can no longer refuse anything."""
    session.execute(delete(RateCounter).where(RateCounter.window_start < cutoff))
