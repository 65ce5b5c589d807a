"""Deliver pending outbox rows through the selected adapters, exactly once where possible.

The protocol, per batch:

1. claim due rows (status ``sending``, a fresh claim token) and commit;
2. rows whose last answer was lost (``verify_first``) are checked with the vendor first
   (``find_sent``): what it has is marked sent, only what it lacks is sent;
3. send in chunks, each sized to take at most half the lease; before each chunk the lease of
   every row still claimed is renewed (a guarded update on the claim token), rows another
   dispatcher took over are not sent, and the chunk's rows are marked started
   (``send_started_at``) in the same commit, right before the vendor call;
4. record each chunk's outcomes in one statement and commit.

A vendor that cannot be asked what it has (SendGrid's mail send: ``find_sent`` answers None)
gets its rows one at a time instead, each marked started in the commit that records the one
before it: a crash then leaves at most one such row in doubt.

A send whose answer was lost (timeout after sending, dropped connection, unreadable answer,
5xx) may have happened: the row goes back to the queue with ``verify_first`` and the usual
backoff, never straight to a second send. A crash between 3 and 4 leaves rows in ``sending``;
once their lease has expired the next run queues the rows that were never started again and
asks the vendor about the started ones the same way (``tasks.outbox_recovery``, which also
holds a person's requeue). A vendor that cannot answer (SendGrid's v3 mail send has no
idempotency key) gets such rows parked as ``in_doubt`` for a person to resolve rather than
sent twice.

Email rows are checked against the suppression list when claimed (one query per batch): a row
whose recipient unsubscribed, bounced or reported spam is never sent and ends ``suppressed``
with the reason, whatever code enqueued it and whenever the address was added.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import outbox as repo
from db.repositories import suppressions
from db.repositories.outbox_steps import Steps, email_steps
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.errors import PermanentError, TransientError, UncertainError
from integrations.ports import Deliverer, DeliveryResult
from integrations.retry import redelivery_delay
from tasks.outbox_claims import (
    DEFAULT_POLICY,
    Claimed,
    DispatchPolicy,
    ask_vendor,
    by_channel,
    claimed_row,
    gave_up,
    sent_outcome,
)
from tasks.outbox_recovery import recover_stale
from tasks.outbox_report import DispatchReport

log = logging.getLogger(__name__)


def dispatch_outbox(
    factory: sessionmaker[Session],
    deliverers: Mapping[OutboxChannel, Deliverer],
    now: datetime,
    policy: DispatchPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
) -> DispatchReport:
    """Recover rows stranded by a crash, then deliver due rows batch by batch."""
    report = DispatchReport()
    recover_stale(factory, deliverers, now, policy, report)
    pace = _Pace(policy)
    for _ in range(policy.max_batches):
        token = uuid.uuid4().hex
        with transaction(factory) as session:
            claimed = repo.claim_due(
                session, now, policy.batch_size, token, list(deliverers), policy.wall_clock()
            )
            items = _with_suppressions(session, [claimed_row(row) for row in claimed])
        if not items:
            break
        report.batches += 1
        run = _Run(factory, token, now, policy, report, rng, pace)
        for channel, batch in by_channel(items).items():
            run.deliver(deliverers[channel], batch)
    return report


def _with_suppressions(session: Session, items: Sequence[Claimed]) -> list[Claimed]:
    """Email rows carry the suppression reason of their recipient (one query per batch)."""
    emails = [c.item.recipient for c in items if c.channel is OutboxChannel.EMAIL]
    reasons = suppressions.suppressed(session, emails) if emails else {}
    if not reasons:
        return list(items)
    return [
        replace(c, suppressed=reasons.get(c.item.recipient.strip().lower()))
        if c.channel is OutboxChannel.EMAIL
        else c
        for c in items
    ]


class _Pace:
    """Seconds per item each channel took in its last chunk, to size the next one."""

    def __init__(self, policy: DispatchPolicy) -> None:
        self.budget = policy.lease.total_seconds() * policy.chunk_share
        self.per_item: dict[OutboxChannel, float] = {}

    def chunk_size(self, channel: OutboxChannel, remaining: int, first: int = 1) -> int:
        per_item = self.per_item.get(channel)
        if per_item is None:  # no measure yet: one vendor call (its batch, or one item)
            return max(1, min(remaining, first))
        fits = math.floor(self.budget / per_item) if per_item > 0 else remaining
        return max(1, min(remaining, fits))

    def measured(self, channel: OutboxChannel, items: int, seconds: float) -> None:
        self.per_item[channel] = seconds / max(items, 1)


@dataclass
class _Run:
    """One claimed batch: verify what needs it, then send in chunks under a renewed lease."""

    factory: sessionmaker[Session]
    token: str
    now: datetime
    policy: DispatchPolicy
    report: DispatchReport
    rng: random.Random | None
    pace: _Pace

    def deliver(self, deliverer: Deliverer, batch: Sequence[Claimed]) -> None:
        to_send = [c for c in batch if not c.verify_first]
        to_verify = [c for c in batch if c.verify_first]
        if to_verify:
            outcomes, missing = _verify_lost_answers(
                deliverer, to_verify, self.now, self.policy, self.report, self.rng
            )
            self._record(outcomes)
            to_send = sorted(to_send + missing, key=lambda c: c.id)
        held = [c for c in to_send if c.suppressed]
        if held:
            self._record(_suppressed(deliverer.channel, held, self.report))
        self._send_in_chunks(deliverer, [c for c in to_send if not c.suppressed])

    def _send_in_chunks(self, deliverer: Deliverer, batch: Sequence[Claimed]) -> None:
        channel = deliverer.channel
        one_by_one = _cannot_confirm(deliverer)
        remaining = list(batch)
        while remaining:
            with transaction(self.factory) as session:
                ours = repo.renew_claims(session, self.token, self.policy.wall_clock())
                taken = [c.id for c in remaining if c.id not in ours]
                if taken:
                    self._lease_lost(channel, taken)
                    remaining = [c for c in remaining if c.id in ours]
                    if not remaining:
                        return
                size = self.pace.chunk_size(
                    channel, len(remaining), getattr(deliverer, "batch_size", 1)
                )
                chunk, remaining = remaining[:size], remaining[size:]
                if not one_by_one:  # committed before the call: see outbox_recovery
                    ids = [c.id for c in chunk]
                    repo.mark_started(session, self.token, ids, self.policy.wall_clock())
            started = time.monotonic()
            if one_by_one:
                # One connection for the chunk's email-by-email transactions: taking one from
                # the pool for each paid its liveness ping every time. It stays idle at most
                # one request long, so the pool's check at checkout still covers long waits.
                with email_steps(self.factory) as steps:
                    outcomes = self._one_by_one(deliverer, chunk, steps)
            else:
                results = _deliver(deliverer, chunk)
                outcomes = _outcomes(
                    channel, chunk, results, self.now, self.policy, self.report, self.rng
                )
            self.pace.measured(channel, len(chunk), time.monotonic() - started)
            self._record(outcomes)

    def _one_by_one(
        self, deliverer: Deliverer, chunk: Sequence[Claimed], steps: Steps
    ) -> list[repo.Outcome]:
        """For a vendor that cannot be asked what it has: each row is marked started in the
        commit that records the previous row's outcome, right before its own request, so a
        crash leaves at most one row whose fate only the vendor knows. Returns the outcomes
        not recorded yet."""
        channel = deliverer.channel
        unrecorded: list[repo.Outcome] = []
        for position, claimed in enumerate(chunk):
            started = steps.step(self.token, unrecorded, claimed.id, self.policy.wall_clock())
            unrecorded = []
            if not started:
                self._lease_lost(channel, [claimed.id])
                continue
            results = _deliver(deliverer, [claimed])
            unrecorded = _outcomes(
                channel, [claimed], results, self.now, self.policy, self.report, self.rng
            )
            result = results.get(claimed.item.dedupe_key)
            if result is not None and result.transient and not result.uncertain:
                # Refused for now (rate limit, unreachable): the rest would meet the same wall.
                rest = chunk[position + 1 :]
                wall_error = f"not tried: {result.error}"
                failed = _all_failed(
                    rest, wall_error, transient=True, retry_after=result.retry_after
                )
                unrecorded += _outcomes(
                    channel,
                    rest,
                    {r.dedupe_key: r for r in failed},
                    self.now,
                    self.policy,
                    self.report,
                    self.rng,
                )
                break
        return unrecorded

    def _lease_lost(self, channel: OutboxChannel, ids: Sequence[int]) -> None:
        self.report.lease_lost[channel] += len(ids)
        log.warning("outbox %s: lease lost to another dispatcher, not sent", list(ids))

    def _record(self, outcomes: Sequence[repo.Outcome]) -> None:
        with transaction(self.factory) as session:
            repo.record_outcomes(session, self.token, outcomes)


def _cannot_confirm(deliverer: Deliverer) -> bool:
    """The port's answer to an empty question: None means its vendor cannot be asked what it
    already has (SendGrid's mail send), so a row it may have received cannot be checked."""
    try:
        return deliverer.find_sent([]) is None
    except Exception:  # a port that cannot answer even that: treat it as one that can be asked
        log.debug("asking %s an empty question failed", deliverer.channel, exc_info=True)
        return False


def _suppressed(
    channel: OutboxChannel, held: Sequence[Claimed], report: DispatchReport
) -> list[repo.Outcome]:
    """Rows to a suppressed recipient end here, unsent, with the list's reason."""
    report.suppressed[channel] += len(held)
    log.info("outbox %s: recipient suppressed, not sent", [c.id for c in held])
    return [
        repo.Outcome(
            c.id,
            OutboxStatus.SUPPRESSED,
            last_error=f"not sent: the recipient is on the suppression list ({c.suppressed})",
        )
        for c in held
    ]


def _deliver(deliverer: Deliverer, batch: Sequence[Claimed]) -> dict[str, DeliveryResult]:
    """One call for the whole batch; a failure of the call is a failure of every row in it."""
    try:
        results = deliverer.deliver([c.item for c in batch])
    except TransientError as error:
        results = _all_failed(
            batch,
            str(error),
            transient=True,
            retry_after=error.retry_after,
            uncertain=isinstance(error, UncertainError),
        )
    except PermanentError as error:
        results = _all_failed(batch, str(error))
    except Exception as error:  # unexpected: it may have come after the vendor acted
        log.exception("deliverer %s failed", deliverer.channel)
        message = f"{type(error).__name__}: {error}"
        results = _all_failed(batch, message, transient=True, uncertain=True)
    return {r.dedupe_key: r for r in results}


def _all_failed(
    batch: Sequence[Claimed],
    error: str,
    *,
    transient: bool = False,
    retry_after: float | None = None,
    uncertain: bool = False,
) -> list[DeliveryResult]:
    return [
        DeliveryResult(
            c.item.dedupe_key,
            error=error,
            transient=transient,
            retry_after=retry_after,
            uncertain=uncertain,
        )
        for c in batch
    ]


def _backoff(
    now: datetime, attempts: int, retry_after: float | None, rng: random.Random | None
) -> datetime:
    return now + timedelta(seconds=max(retry_after or 0.0, redelivery_delay(attempts, rng)))


def _outcomes(
    channel: OutboxChannel,
    batch: Sequence[Claimed],
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
        elif result.uncertain:
            # Never a blind second send, whatever the attempt count: ask the vendor first.
            report.answer_lost[channel] += 1
            log.warning("outbox %s: answer lost, %s will be asked first", claimed.id, channel)
            outcomes.append(
                repo.Outcome(
                    claimed.id,
                    OutboxStatus.PENDING,
                    last_error=f"{_answer_lost(result.error)}; {channel} will be asked "
                    "whether it arrived before anything is sent again",
                    next_attempt_at=_backoff(now, claimed.attempts, result.retry_after, rng),
                    verify_first=True,
                )
            )
        elif result.transient and claimed.attempts < policy.max_attempts:
            report.retrying[channel] += 1
            outcomes.append(
                repo.Outcome(
                    claimed.id,
                    OutboxStatus.PENDING,
                    last_error=result.error,
                    next_attempt_at=_backoff(now, claimed.attempts, result.retry_after, rng),
                )
            )
        else:
            report.failed[channel] += 1
            error = result.error or "unknown error"
            if result.transient:
                error = f"gave up after {claimed.attempts} attempts: {error}"
            outcomes.append(repo.Outcome(claimed.id, OutboxStatus.FAILED, last_error=error))
            report.gave_up.append(gave_up(channel, claimed, outcomes[-1]))
            log.warning("outbox %s failed permanently", claimed.id)
    return outcomes


def _answer_lost(error: str | None) -> str:
    text = error or "no answer"
    return text if text.startswith("answer lost") else f"answer lost: {text}"


def _verify_lost_answers(
    deliverer: Deliverer,
    batch: Sequence[Claimed],
    now: datetime,
    policy: DispatchPolicy,
    report: DispatchReport,
    rng: random.Random | None,
) -> tuple[list[repo.Outcome], list[Claimed]]:
    """Settle rows whose last answer was lost; returns their outcomes and what to send."""
    channel = deliverer.channel
    answer = ask_vendor(deliverer, batch)
    outcomes: list[repo.Outcome] = []
    to_send: list[Claimed] = []
    for claimed in batch:
        reference = answer.reference(claimed)
        if reference:
            report.confirmed_after_lost_answer[channel] += 1
            outcomes.append(sent_outcome(claimed, reference, now))
        elif answer.error is not None and claimed.attempts < policy.max_attempts:
            report.retrying[channel] += 1
            outcomes.append(
                repo.Outcome(
                    claimed.id,
                    OutboxStatus.PENDING,
                    last_error=f"answer lost; asking {channel} whether it arrived failed "
                    f"({answer.error}); asking again later",
                    next_attempt_at=_backoff(now, claimed.attempts, answer.error.retry_after, rng),
                    verify_first=True,
                )
            )
        elif answer.known is None:
            report.in_doubt[channel] += 1
            why = "cannot confirm delivery" if answer.error is None else "could not be asked"
            outcomes.append(
                repo.Outcome(
                    claimed.id,
                    OutboxStatus.IN_DOUBT,
                    last_error=f"answer lost and {channel} {why}; check, then "
                    "`referrals outbox resolve ID --sent` or `referrals outbox requeue ID`",
                )
            )
            report.gave_up.append(gave_up(channel, claimed, outcomes[-1]))
        elif claimed.attempts > policy.max_attempts:
            report.failed[channel] += 1
            outcomes.append(
                repo.Outcome(
                    claimed.id,
                    OutboxStatus.FAILED,
                    last_error=f"gave up after {policy.max_attempts} attempts: "
                    f"{claimed.last_error or 'answer lost'}; {channel} does not have it",
                )
            )
            report.gave_up.append(gave_up(channel, claimed, outcomes[-1]))
        else:
            to_send.append(claimed)
    return outcomes, to_send
