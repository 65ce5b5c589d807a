"""Deliver pending outbox rows through the selected adapters, exactly once where possible.

The protocol, per batch:

1. claim due rows (status ``sending``, a fresh claim token) and commit;
2. hand them to the channel's deliverer (one vendor batch call where the vendor has one);
3. record every outcome in one statement and commit.

A crash between 2 and 3 leaves rows in ``sending``. Once their lease has expired the next run
asks the vendor which of them it already has (``find_sent``): those are marked sent, the rest
go back to the queue. A vendor that cannot answer (SendGrid's v3 mail send has no idempotency
key) gets its rows parked as ``in_doubt`` for a person to resolve rather than sent twice; the
window is one vendor call, because outcomes are committed right after each call.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import OutboxMessage
from db.repositories import outbox as repo
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.errors import PermanentError, TransientError
from integrations.ports import Deliverer, DeliveryResult, OutboundItem
from integrations.retry import redelivery_delay

log = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    sent: Counter[str] = field(default_factory=Counter)
    retrying: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    in_doubt: Counter[str] = field(default_factory=Counter)
    confirmed_after_crash: Counter[str] = field(default_factory=Counter)
    requeued_after_crash: Counter[str] = field(default_factory=Counter)
    batches: int = 0

    def rows(self) -> list[dict[str, object]]:
        channels = sorted(
            set(self.sent)
            | set(self.retrying)
            | set(self.failed)
            | set(self.in_doubt)
            | set(self.confirmed_after_crash)
            | set(self.requeued_after_crash)
        )
        return [
            {
                "channel": channel,
                "sent": self.sent[channel],
                "retrying": self.retrying[channel],
                "failed": self.failed[channel],
                "in_doubt": self.in_doubt[channel],
                "confirmed_after_crash": self.confirmed_after_crash[channel],
                "requeued_after_crash": self.requeued_after_crash[channel],
            }
            for channel in channels
        ]


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 500
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=30)
    max_batches: int = 200
    # Leases run on real time whatever the run's program time is; tests inject a clock.
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


DEFAULT_POLICY = DispatchPolicy()


def dispatch_outbox(
    factory: sessionmaker[Session],
    deliverers: Mapping[OutboxChannel, Deliverer],
    now: datetime,
    policy: DispatchPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
) -> DispatchReport:
    """Recover rows stranded by a crash, then deliver due rows batch by batch."""
    report = DispatchReport()
    _recover_stale(factory, deliverers, now, policy, report)
    for _ in range(policy.max_batches):
        token = uuid.uuid4().hex
        with transaction(factory) as session:
            claimed = repo.claim_due(
                session, now, policy.batch_size, token, list(deliverers), policy.wall_clock()
            )
            items = [_item(row) for row in claimed]
        if not items:
            break
        report.batches += 1
        outcomes = []
        for channel, batch in _by_channel(items).items():
            results = _deliver(deliverers[channel], batch)
            outcomes += _outcomes(channel, batch, results, now, policy, report, rng)
        with transaction(factory) as session:
            repo.record_outcomes(session, token, outcomes)
    return report


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: OutboxChannel
    attempts: int
    item: OutboundItem


def _item(row: OutboxMessage) -> _Claimed:
    return _Claimed(
        row.id,
        row.channel,
        row.attempts,
        OutboundItem(row.dedupe_key, row.operation, row.recipient, dict(row.payload)),
    )


def _by_channel(items: Sequence[_Claimed]) -> dict[OutboxChannel, list[_Claimed]]:
    grouped: dict[OutboxChannel, list[_Claimed]] = defaultdict(list)
    for item in items:
        grouped[item.channel].append(item)
    return grouped


def _deliver(deliverer: Deliverer, batch: Sequence[_Claimed]) -> dict[str, DeliveryResult]:
    """One call for the whole batch; a failure of the call is a failure of every row in it."""
    try:
        results = deliverer.deliver([c.item for c in batch])
    except TransientError as error:
        results = [
            DeliveryResult(
                c.item.dedupe_key, error=str(error), transient=True, retry_after=error.retry_after
            )
            for c in batch
        ]
    except PermanentError as error:
        results = [DeliveryResult(c.item.dedupe_key, error=str(error)) for c in batch]
    except Exception as error:  # an unexpected failure is retried, bounded by max_attempts
        log.exception("deliverer %s failed", deliverer.channel)
        results = [
            DeliveryResult(
                c.item.dedupe_key, error=f"{type(error).__name__}: {error}", transient=True
            )
            for c in batch
        ]
    return {r.dedupe_key: r for r in results}


def _outcomes(
    channel: OutboxChannel,
    batch: Sequence[_Claimed],
    results: Mapping[str, DeliveryResult],
    now: datetime,
    policy: DispatchPolicy,
    report: DispatchReport,
    rng: random.Random | None,
) -> list[repo.Outcome]:
    outcomes = []
    for claimed in batch:
        result = results.get(claimed.item.dedupe_key)
        if result is None:
            # No answer for this row: leave it in `sending`; stale recovery will ask the vendor.
            log.warning("outbox %s: deliverer returned no result", claimed.id)
            continue
        if result.ok:
            report.sent[channel] += 1
            outcomes.append(
                repo.Outcome(
                    claimed.id, OutboxStatus.SENT, provider_id=result.provider_id, sent_at=now
                )
            )
        elif result.transient and claimed.attempts < policy.max_attempts:
            report.retrying[channel] += 1
            delay = max(result.retry_after or 0.0, redelivery_delay(claimed.attempts, rng))
            outcomes.append(
                repo.Outcome(
                    claimed.id,
                    OutboxStatus.PENDING,
                    last_error=result.error,
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )
        else:
            report.failed[channel] += 1
            error = result.error or "unknown error"
            if result.transient:
                error = f"gave up after {claimed.attempts} attempts: {error}"
            outcomes.append(repo.Outcome(claimed.id, OutboxStatus.FAILED, last_error=error))
            log.warning("outbox %s failed permanently", claimed.id)
    return outcomes


def _recover_stale(
    factory: sessionmaker[Session],
    deliverers: Mapping[OutboxChannel, Deliverer],
    now: datetime,
    policy: DispatchPolicy,
    report: DispatchReport,
) -> None:
    while True:
        token = uuid.uuid4().hex
        with transaction(factory) as session:
            stale = repo.claim_stale(
                session,
                policy.wall_clock(),
                policy.lease,
                policy.batch_size,
                token,
                list(deliverers),
            )
            items = [_item(row) for row in stale]
        if not items:
            return
        outcomes = []
        for channel, batch in _by_channel(items).items():
            try:
                known = deliverers[channel].find_sent([c.item for c in batch])
            except TransientError:
                # Ask again later: the rows stay claimed and go stale again after the lease.
                log.warning("could not ask %s about %d stranded rows", channel, len(batch))
                continue
            except PermanentError as error:
                log.warning("%s cannot confirm stranded rows: %s", channel, error)
                known = None
            for claimed in batch:
                if known is None:
                    report.in_doubt[channel] += 1
                    outcomes.append(
                        repo.Outcome(
                            claimed.id,
                            OutboxStatus.IN_DOUBT,
                            last_error="dispatcher stopped mid-send and the vendor cannot confirm "
                            "delivery; check, then `referrals outbox resolve`",
                        )
                    )
                elif known.get(claimed.item.dedupe_key):
                    report.confirmed_after_crash[channel] += 1
                    outcomes.append(
                        repo.Outcome(
                            claimed.id,
                            OutboxStatus.SENT,
                            provider_id=known[claimed.item.dedupe_key],
                            sent_at=now,
                        )
                    )
                else:
                    report.requeued_after_crash[channel] += 1
                    outcomes.append(
                        repo.Outcome(claimed.id, OutboxStatus.PENDING, next_attempt_at=now)
                    )
        with transaction(factory) as session:
            repo.record_outcomes(session, token, outcomes)
