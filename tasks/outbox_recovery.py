"""Outbox rows a dispatcher left behind, and rows a person sends again.

A dispatcher that died mid-send leaves rows in ``sending``. Once their lease has expired, the
next run queues again the rows that were never started, and asks the vendor about the started
ones: what it has is marked sent, what it lacks is queued, and a vendor that cannot tell
(SendGrid's mail send) gets them parked ``in_doubt`` for a person rather than sent twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import outbox as repo
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.ports import Deliverer
from tasks.outbox_claims import (
    DEFAULT_POLICY,
    DispatchPolicy,
    ask_vendor,
    by_channel,
    claimed_row,
    gave_up,
    sent_outcome,
)
from tasks.outbox_report import DispatchReport


def recover_stale(
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
            items = [claimed_row(row) for row in stale]
        if not items:
            return
        outcomes = []
        # Never handed to the vendor (no start mark): queued again, nobody needs asking.
        for claimed in (c for c in items if not c.started):
            report.requeued_after_crash[claimed.channel] += 1
            outcomes.append(
                repo.Outcome(
                    claimed.id,
                    OutboxStatus.PENDING,
                    next_attempt_at=now,
                    verify_first=claimed.verify_first,  # an earlier lost answer still counts
                )
            )
        for channel, batch in by_channel([c for c in items if c.started]).items():
            answer = ask_vendor(deliverers[channel], batch)
            if answer.error is not None:
                continue  # the rows stay claimed and go stale again after the lease
            for claimed in batch:
                reference = answer.reference(claimed)
                if answer.known is None:
                    report.in_doubt[channel] += 1
                    outcomes.append(
                        repo.Outcome(
                            claimed.id,
                            OutboxStatus.IN_DOUBT,
                            last_error="dispatcher stopped mid-send and the vendor cannot confirm "
                            "delivery; check, then `referrals outbox resolve`",
                        )
                    )
                    report.gave_up.append(gave_up(channel, claimed, outcomes[-1]))
                elif reference:
                    report.confirmed_after_crash[channel] += 1
                    outcomes.append(sent_outcome(claimed, reference, now))
                else:
                    report.requeued_after_crash[channel] += 1
                    outcomes.append(
                        repo.Outcome(claimed.id, OutboxStatus.PENDING, next_attempt_at=now)
                    )
        with transaction(factory) as session:
            repo.record_outcomes(session, token, outcomes)


@dataclass
class RequeueReport:
    already_sent: list[int] = field(default_factory=list)  # the vendor had them
    requeued: list[int] = field(default_factory=list)  # sent at the next dispatch
    verify_later: list[int] = field(default_factory=list)  # the vendor could not be asked
    skipped: list[int] = field(default_factory=list)  # not failed or in doubt


def requeue_outbox(
    factory: sessionmaker[Session],
    deliverers: Mapping[OutboxChannel, Deliverer],
    ids: Sequence[int],
    now: datetime,
    policy: DispatchPolicy = DEFAULT_POLICY,
) -> RequeueReport:
    """A person's decision to send failed or in-doubt rows again; the vendor is asked first.

    What the vendor has is marked sent. The rest go back to the queue as plain rows, even when
    the vendor cannot tell: the person decided to send, so they never bounce back into
    ``in_doubt``. If asking fails, they are queued with ``verify_first`` and the dispatcher
    asks again before sending.
    """
    token = uuid.uuid4().hex
    with transaction(factory) as session:
        rows = repo.claim_for_requeue(session, ids, token, list(deliverers), policy.wall_clock())
        claimed = [claimed_row(row) for row in rows]
    report = RequeueReport(skipped=sorted(set(ids) - {c.id for c in claimed}))
    outcomes = []
    for channel, batch in by_channel(claimed).items():
        answer = ask_vendor(deliverers[channel], batch)
        for c in batch:
            reference = answer.reference(c)
            if reference:
                report.already_sent.append(c.id)
                outcomes.append(sent_outcome(c, reference, now))
                continue
            verify = answer.error is not None
            (report.verify_later if verify else report.requeued).append(c.id)
            outcomes.append(
                repo.Outcome(c.id, OutboxStatus.PENDING, next_attempt_at=now, verify_first=verify)
            )
    with transaction(factory) as session:
        repo.record_outcomes(session, token, outcomes)
    return report
