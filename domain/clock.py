"""The injectable clock: everything that asks "what time is it" goes through one of these.

Flows take an optional ``at`` and hand a plain aware datetime down to tasks, so the demo and
tests can move time without patching anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stands still until told to move (demo days, tests)."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.current = ensure_utc(self.current)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current


def ensure_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive values are refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no timezone")
    return value.astimezone(UTC)


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Instants outside ``[EARLIEST, LATEST)`` are refused: rules add windows and cooldowns to
them, and Python's datetime ends at year 9999."""

NOT_ISO = "is not an ISO 8601 date or time (e.g. 2026-02-01T09:30:00Z, +01:00, or 2026-02-01)"
OUT_OF_RANGE = "is outside the supported range (1900-01-01 to 2199-12-31)"


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant. A bare date means midnight UTC; a naive time is refused.

    Every problem is a ``ValueError`` whose message does not repeat the text (it may come
    from a file and hold anything).
    """
    text = text.strip()
    if not text:
        raise ValueError("is empty")
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(), UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(NOT_ISO) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("has no timezone (add Z or +00:00)")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError(OUT_OF_RANGE) from None
    if not EARLIEST <= parsed < LATEST:
        raise ValueError(OUT_OF_RANGE)
    return parsed
