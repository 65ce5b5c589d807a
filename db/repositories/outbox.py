"""Outbox queries: enqueue, claim, record results. Set-based; commits belong to callers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from db.base import UTCDateTime
from db.models import OutboxMessage
from db.repositories.upsert import insert_ignoring_conflicts
from domain.statuses import OutboxChannel, OutboxStatus

OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class NewMessage:
    channel: OutboxChannel
    operation: str
    recipient: str
    dedupe_key: str
    payload: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    # Set when the message is recorded but must never go out (say, a suppressed recipient):
    # the row is kept as evidence that the step was handled, with this as its reason.
    held: str | None = None


def enqueue(session: Session, messages: Sequence[NewMessage], now: datetime) -> int:
    """Add messages in the caller's transaction; a known dedupe key is silently kept as is.

    Returns how many were new.
    """
    rows = [
        {
            "channel": m.channel,
            "operation": m.operation,
            "recipient": m.recipient,
            "template": m.template,
            "payload": m.payload,
            "dedupe_key": m.dedupe_key,
            "subject_type": m.subject_type,
            "subject_id": m.subject_id,
            "status": OutboxStatus.SUPPRESSED if m.held else OutboxStatus.PENDING,
            "last_error": m.held,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    return insert_ignoring_conflicts(session, OUTBOX, rows, ["dedupe_key"])


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    token: str,
    channels: Sequence[OutboxChannel],
    claimed_at: datetime | None = None,
) -> list[OutboxMessage]:
    """Mark up to ``limit`` due pending rows as ours (status sending) and return them.

    On PostgreSQL concurrent dispatchers skip each other's locked rows; SQLite serialises
    writers, and the status guard in the UPDATE keeps a row from being claimed twice.
    """
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.channel.in_(channels),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _claim(session, due, OutboxStatus.PENDING, claimed_at or now, token)


def claim_stale(
    session: Session,
    wall_now: datetime,
    lease: timedelta,
    limit: int,
    token: str,
    channels: Sequence[OutboxChannel],
) -> list[OutboxMessage]:
    """Claim rows left in ``sending`` longer than the lease: their dispatcher died mid-send.

    Leases are wall-clock time (``claimed_at`` is stamped with the real time of the claim), never
    the run's program time, so a long run cannot look stale to a concurrent dispatcher.
    """
    stale = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_at < wall_now - lease,
            OutboxMessage.channel.in_(channels),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return _claim(session, stale, OutboxStatus.SENDING, wall_now, token)


def claim_for_requeue(
    session: Session,
    ids: Sequence[int],
    token: str,
    channels: Sequence[OutboxChannel],
    wall_now: datetime,
) -> list[OutboxMessage]:
    """Claim failed or in-doubt rows a person wants sent again, with a fresh attempt count,
    so the vendor can be asked about them before anything is sent."""
    wanted = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.IN_DOUBT]),
            OutboxMessage.channel.in_(channels),
        )
        .with_for_update()
    )
    return _claim(session, wanted, (OutboxStatus.FAILED, OutboxStatus.IN_DOUBT), wall_now, token)


def _claim(
    session: Session,
    ids: Any,
    expected: OutboxStatus | tuple[OutboxStatus, ...],
    now: datetime,
    token: str,
) -> list[OutboxMessage]:
    statuses = expected if isinstance(expected, tuple) else (expected,)
    if expected is OutboxStatus.PENDING:
        attempts: Any = OutboxMessage.attempts + 1
    elif expected is OutboxStatus.SENDING:
        attempts = OutboxMessage.attempts
    else:  # a person's requeue starts the count again
        attempts = 0
    # The ids first, in their own statement: as a subquery of the UPDATE, PostgreSQL may
    # re-run `LIMIT ... FOR UPDATE SKIP LOCKED` inside a nested loop and claim past the limit.
    chosen = list(session.scalars(ids))
    if not chosen:
        return []
    values: dict[str, Any] = {
        "status": OutboxStatus.SENDING,
        "claim_token": token,
        "claimed_at": now,
        "attempts": attempts,
    }
    if expected is not OutboxStatus.SENDING:  # a stale row keeps its mark: it may have gone out
        values["send_started_at"] = None
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(chosen), OutboxMessage.status.in_(statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.claim_token == token).order_by(OutboxMessage.id)
    ).all()
    return list(rows)


def renew_claims(session: Session, token: str, wall_now: datetime) -> set[int]:
    """Extend the lease of every row still claimed by ``token``; returns their ids.

    A row another dispatcher took over after the lease ran out has a different token and is
    left alone: its id is missing from the answer, so the caller does not send it.
    """
    renewed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.claim_token == token, OutboxMessage.status == OutboxStatus.SENDING)
        .values(claimed_at=wall_now)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return set(renewed)


def _marking(rows: ColumnElement[bool]) -> Update:
    """Mark ``rows`` started if still claimed by the token and sending; returns their ids."""
    return (
        update(OUTBOX)
        .where(
            rows,
            OUTBOX.c.claim_token == bindparam("b_token"),
            OUTBOX.c.status == OutboxStatus.SENDING,
        )
        .values(send_started_at=bindparam("b_now", type_=UTCDateTime()))
        .returning(OUTBOX.c.id)
    )


# Built once: the one-by-one send path runs them for every email. One row has a statement of
# its own: an expanding IN is rendered again on every execution.
_MARK_STARTED = _marking(OUTBOX.c.id.in_(bindparam("b_ids", expanding=True)))
_MARK_ONE_STARTED = _marking(OUTBOX.c.id == bindparam("b_id"))


def mark_started(session: Session, token: str, ids: Sequence[int], wall_now: datetime) -> set[int]:
    """Record that these claimed rows are about to be handed to the vendor (the caller
    commits before the call); returns the ids still claimed by ``token``, the only ones to
    send. After a crash, rows claimed without this mark were never sent."""
    if not ids:
        return set()
    # On the connection, not through the ORM session: a Core statement that needs no
    # ORM bookkeeping, run once per email on the one-by-one path.
    connection = session.connection()
    if len(ids) == 1:
        one = {"b_id": ids[0], "b_token": token, "b_now": wall_now}
        return set(connection.execute(_MARK_ONE_STARTED, one).scalars())
    params = {"b_ids": list(ids), "b_token": token, "b_now": wall_now}
    return set(connection.execute(_MARK_STARTED, params).scalars())


@dataclass(frozen=True)
class Outcome:
    """The new state of one claimed row after a delivery attempt."""

    id: int
    status: OutboxStatus
    provider_id: str | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    # The vendor must be asked about this row before it is sent again (its answer was lost).
    verify_first: bool = False


# Built once, as _MARK_STARTED: the one-by-one send path records every email's outcome.
_RECORD_OUTCOME = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("b_id"), OUTBOX.c.claim_token == bindparam("b_token"))
    .values(
        status=bindparam("b_status"),
        provider_id=func.coalesce(bindparam("b_provider_id"), OUTBOX.c.provider_id),
        last_error=func.coalesce(bindparam("b_last_error"), OUTBOX.c.last_error),
        # typed binds: inside coalesce() the column's UTC type would not apply
        next_attempt_at=func.coalesce(
            bindparam("b_next", type_=UTCDateTime()), OUTBOX.c.next_attempt_at
        ),
        sent_at=bindparam("b_sent_at", type_=UTCDateTime()),
        verify_first=bindparam("b_verify_first"),
        claim_token=None,
        send_started_at=None,
    )
)


# The one-by-one path's step between two emails, in one round trip on PostgreSQL (run on the
# driver by ``outbox_steps``): the last email's outcome (a data-modifying CTE) and the next
# email's start mark. Two different rows of one snapshot: neither update sees or blocks the
# other.
_RECORD_THEN_MARK = _marking(OUTBOX.c.id == bindparam("b_mark_id")).add_cte(
    _RECORD_OUTCOME.returning(OUTBOX.c.id).cte("recorded")
)


def _outcome_params(token: str, outcome: Outcome) -> dict[str, Any]:
    return {
        "b_id": outcome.id,
        "b_token": token,
        "b_status": outcome.status,
        "b_provider_id": outcome.provider_id,
        "b_last_error": outcome.last_error,
        "b_next": outcome.next_attempt_at,
        "b_sent_at": outcome.sent_at,
        "b_verify_first": outcome.verify_first,
    }


def record_outcomes(session: Session, token: str, outcomes: Sequence[Outcome]) -> None:
    """Write every outcome in one executemany; only rows still claimed by ``token`` change."""
    if not outcomes:
        return
    params = [_outcome_params(token, o) for o in outcomes]
    # One outcome (the one-by-one path, per email) as a plain execute: executemany's
    # batching machinery costs more than the statement for a single row.
    session.connection().execute(_RECORD_OUTCOME, params[0] if len(params) == 1 else params)


def record_then_mark_started(
    session: Session, token: str, outcomes: Sequence[Outcome], next_id: int, wall_now: datetime
) -> bool:
    """``record_outcomes`` then ``mark_started`` of one row, in the caller's transaction; True
    when that row is still claimed by ``token``. (On PostgreSQL the dispatcher runs both as
    one statement on the driver: ``outbox_steps``.)"""
    record_outcomes(session, token, outcomes)
    return bool(mark_started(session, token, [next_id], wall_now))


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {str(status): count for status, count in rows}


def list_messages(
    session: Session, status: OutboxStatus | None = None, limit: int = 100
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query).all())


def mark_sent_manually(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Close in-doubt rows that a person confirmed were delivered."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.IN_DOUBT)
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            claim_token=None,
            verify_first=False,
            send_started_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
