"""The injectable clock: everything that asks "what time is it" goes through one of these.

Flows take an optional ``at`` and hand a plain aware datetime down to tasks, so the demo and
tests can move time without patching anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
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


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant. A bare date means midnight UTC; a naive time is refused."""
    text = text.strip()
    if not text:
        raise ValueError("is empty")
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"'{text}' has no timezone (add Z or +00:00)")
    return parsed.astimezone(UTC)
