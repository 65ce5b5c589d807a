"""What an outbox dispatcher works with: its policy (batch, lease, attempts), the rows it has
claimed, and the one question it asks a vendor about them (``find_sent``). Shared by the send
loop (``tasks.outbox_dispatch``) and crash recovery and a person's requeue
(``tasks.outbox_recovery``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from db.models import OutboxMessage
from db.repositories import outbox as repo
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.errors import PermanentError, TransientError
from integrations.ports import Deliverer, OutboundItem
from tasks.outbox_report import GaveUp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 500
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=30)
    max_batches: int = 200
    # Leases run on real time whatever the run's program time is; tests inject a clock.
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Share of the lease one chunk of sends may take, judged from the last chunk's pace.
    chunk_share: float = 0.5


DEFAULT_POLICY = DispatchPolicy()


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: OutboxChannel
    attempts: int
    verify_first: bool
    last_error: str | None
    item: OutboundItem
    suppressed: str | None = None  # the suppression list's reason for this recipient
    started: bool = False  # marked started before a crash: it may have reached the vendor


def claimed_row(row: OutboxMessage) -> Claimed:
    return Claimed(
        row.id,
        row.channel,
        row.attempts,
        row.verify_first,
        row.last_error,
        OutboundItem(row.dedupe_key, row.operation, row.recipient, dict(row.payload)),
        started=row.send_started_at is not None,
    )


def by_channel(items: Sequence[Claimed]) -> dict[OutboxChannel, list[Claimed]]:
    grouped: dict[OutboxChannel, list[Claimed]] = defaultdict(list)
    for item in items:
        grouped[item.channel].append(item)
    return grouped


@dataclass(frozen=True)
class VendorAnswer:
    """What the vendor said about a batch: key -> reference for what it has (None: it does
    not); ``known`` None when it cannot tell; ``error`` when asking failed transiently."""

    known: Mapping[str, str | None] | None
    error: TransientError | None = None

    def reference(self, claimed: Claimed) -> str | None:
        return (self.known or {}).get(claimed.item.dedupe_key)


def ask_vendor(deliverer: Deliverer, batch: Sequence[Claimed]) -> VendorAnswer:
    """The one vendor check, for stranded rows, lost answers and a person's requeue."""
    try:
        return VendorAnswer(deliverer.find_sent([c.item for c in batch]))
    except TransientError as error:
        log.warning("could not ask %s about %d rows: %s", deliverer.channel, len(batch), error)
        return VendorAnswer(None, error)
    except PermanentError as error:
        log.warning("%s cannot confirm delivery: %s", deliverer.channel, error)
        return VendorAnswer(None)
    except Exception as error:  # an unexpected failure to ask: ask again later
        log.exception("asking %s failed", deliverer.channel)
        return VendorAnswer(None, TransientError(f"{type(error).__name__}: {error}"))


def gave_up(channel: OutboxChannel, claimed: Claimed, outcome: repo.Outcome) -> GaveUp:
    reason = outcome.last_error or "unknown error"
    if outcome.status is OutboxStatus.IN_DOUBT:
        reason = f"in doubt: {reason}"
    return GaveUp(channel, claimed.id, claimed.item.dedupe_key, reason)


def sent_outcome(claimed: Claimed, reference: str | None, now: datetime) -> repo.Outcome:
    return repo.Outcome(claimed.id, OutboxStatus.SENT, provider_id=reference, sent_at=now)
