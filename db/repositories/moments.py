"""Queries of moment detection and ask creation. Set-based: a handful per batch, none per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from db.base import UTCDateTime
from db.models import (
    Account,
    Ask,
    AuditEntry,
    Moment,
    Person,
    Referral,
    ReferralLink,
    Signal,
    TeamMember,
)
from db.repositories.arrays import one_of
from db.repositories.upsert import insert_ignoring_conflicts, insert_rows
from domain.champions import Candidate
from domain.moments import STALE, TRIGGERS_BY_KIND, AccountState, SignalFact
from domain.program_moments import Triggers
from domain.signals import SignalKind
from domain.statuses import ASKING_ROLES, AskStatus, MomentStatus

GUARD_KINDS = (
    SignalKind.NPS,
    SignalKind.ESCALATION_OPENED,
    SignalKind.ESCALATION_CLOSED,
    SignalKind.CHURN_RISK_FLAGGED,
    SignalKind.CHURN_RISK_CLEARED,
)


# Plain rows, not ORM objects: a batch reads thousands of signals and only looks at them.
# Read through the session's connection, not the session: the ORM's row loading costs more
# than the rows (a first day at 100k accounts reads about a million). Named after the fact's
# fields, in their order, so a row's first columns are a fact (``fact``) whatever changes.
SIGNAL_COLUMNS = (*(getattr(Signal, name) for name in SignalFact._fields), Signal.account_id)
_FACT_FIELDS = len(SignalFact._fields)
# The guards look at kinds, times and scores only: their history reads no text or person.
_GUARD_COLUMNS = SIGNAL_COLUMNS[:4]


def fact(signal: Any) -> SignalFact:
    """A signal row (``SIGNAL_COLUMNS``, or a ``Signal``) as the pure rules see it."""
    if isinstance(signal, Row):
        return SignalFact._make(signal[:_FACT_FIELDS])
    return SignalFact(
        signal.id, signal.kind, signal.occurred_at, signal.value, signal.text, signal.person_id
    )


def fires(triggers: Triggers) -> ColumnElement[bool]:
    """``domain.moments.trigger_of`` in SQL: the signals that can be a moment. Asked of the
    database, so the others (about half) are marked checked there, never read."""
    simple = sorted(triggers.enabled_signal_kinds() - {SignalKind.NPS, SignalKind.CSAT})
    parts: list[ColumnElement[bool]] = [Signal.kind.in_(simple)] if simple else []
    for kind, trigger in ((SignalKind.NPS, triggers.nps), (SignalKind.CSAT, triggers.csat)):
        if trigger.enabled:
            parts.append(and_(Signal.kind == kind, Signal.value >= trigger.min_score))
    # NULL (a score without a value) is no moment: coalesced, so its negation is true.
    return func.coalesce(or_(*parts), false()) if parts else false()


def _unchecked(now: datetime, after: tuple[datetime, int] | None) -> list[ColumnElement[bool]]:
    where = [
        Signal.moment_checked_at.is_(None),
        Signal.occurred_at <= now,
        Signal.account_id.is_not(None),
    ]
    if after is not None:
        where.append(_position() > _bound(after))
    return where


def _position() -> Any:
    return tuple_(Signal.occurred_at, Signal.id)


def _bound(at: tuple[datetime, int]) -> Any:
    # Bound as the columns' own types: SQLite compares times as text.
    return tuple_(literal(at[0], Signal.occurred_at.type), literal(at[1], Signal.id.type))


def unchecked_signals(
    session: Session,
    now: datetime,
    limit: int,
    after: tuple[datetime, int] | None,
    firing: ColumnElement[bool],
) -> list[Any]:
    """Unchecked signals that happened by ``now``, belong to a known account and match
    ``firing`` (rows of ``SIGNAL_COLUMNS``), in time order from just after ``after`` (where
    the run's last batch ended). Starting there, not at the first, matters: each checked
    signal leaves an index entry behind until vacuum, and a scan from the start would step
    over all of them again on every batch. Read on the session's connection, so the session
    is not flushed first: a signal added to it and not flushed is not seen."""
    return list(
        session.connection().execute(
            select(*SIGNAL_COLUMNS)
            .where(*_unchecked(now, after), firing)
            .order_by(Signal.occurred_at, Signal.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # two runs at once take different signals
        )
    )


def check_quiet_signals(
    session: Session,
    now: datetime,
    after: tuple[datetime, int] | None,
    upto: tuple[datetime, int] | None,
    firing: ColumnElement[bool],
) -> int:
    """Mark checked, in one statement, the unchecked signals after ``after`` up to ``upto``
    (no end when None) that do not match ``firing``: they can be no moment. Returns how
    many."""
    where = [*_unchecked(now, after), ~firing]
    if upto is not None:
        where.append(_position() <= _bound(upto))
    # Rows another run holds are left to it, as unchecked_signals leaves them.
    quiet = select(Signal.id).where(*where).with_for_update(skip_locked=True)
    result = session.execute(
        update(Signal)
        .where(Signal.id.in_(quiet.scalar_subquery()))
        .values(moment_checked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def suppress_stale(
    session: Session, now: datetime, cutoff: datetime, firing: ColumnElement[bool]
) -> int:
    """Mark checked, each with its audit row (``moment_suppressed``, reason ``stale_signal``
    alone), the unchecked signals that would fire a trigger but happened before ``cutoff``:
    too old to be a moment whatever else holds, so the guards are not asked about them. Set
    in SQL: a first day's backlog is mostly such signals. Returns how many."""
    where = [*_unchecked(now, None), firing, Signal.occurred_at < cutoff]
    columns = ["occurred_at", "actor", "action", "entity_type", "entity_id", "details"]
    if session.get_bind().dialect.name == "postgresql":
        # Rows another run holds are left to it; the audit rows are the ones this run marked.
        held = select(Signal.id).where(*where).with_for_update(skip_locked=True)
        checked = (
            update(Signal)
            .where(Signal.id.in_(held.scalar_subquery()))
            .values(moment_checked_at=now)
            .returning(Signal.id, Signal.kind)
            .cte("checked")
        )
        details = func.jsonb_build_object(
            _text("trigger"),
            cast(_trigger_name(checked.c.kind), Text),
            _text("reasons"),
            func.jsonb_build_array(_text(STALE)),
        )
        rows = select(*_audit_constants(now), cast(checked.c.id, String), details)
        audited = (
            insert(AuditEntry).from_select(columns, rows).returning(AuditEntry.id).cte("audited")
        )
        return session.scalar(select(func.count()).select_from(audited)) or 0
    # SQLite: one writer at a time, so the same condition names the same rows twice.
    details = func.json_object(
        "trigger", _trigger_name(Signal.kind), "reasons", func.json_array(STALE)
    )
    rows = select(*_audit_constants(now), cast(Signal.id, String), details).where(*where)
    session.execute(insert(AuditEntry).from_select(columns, rows))
    result = session.execute(
        update(Signal)
        .where(*where)
        .values(moment_checked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _trigger_name(kind: Any) -> Any:
    return case(*((kind == k, name) for k, name in TRIGGERS_BY_KIND.items()), else_=None)


def _text(value: str) -> Any:
    # Typed: jsonb_build_object takes "any", and an untyped parameter there is an error.
    return cast(literal(value), Text)


def _audit_constants(now: datetime) -> list[Any]:
    return [
        literal(now, UTCDateTime()),
        literal("detect-moments"),
        literal("moment_suppressed"),
        literal("signal"),
    ]


def account_states(session: Session, account_ids: Sequence[int]) -> dict[int, AccountState]:
    accounts = session.execute(
        select(
            Account.id,
            Account.segment,
            TeamMember.team,
            Account.escalation_open,
            Account.churn_risk,
        )
        .outerjoin(TeamMember, TeamMember.id == Account.owner_id)
        .where(one_of(session, Account.id, account_ids))
    ).all()
    history: dict[int, list[SignalFact]] = defaultdict(list)
    for account_id, *fields in session.connection().execute(
        select(Signal.account_id, *_GUARD_COLUMNS)
        .where(one_of(session, Signal.account_id, account_ids), Signal.kind.in_(GUARD_KINDS))
        .order_by(Signal.id)
    ):
        history[account_id or 0].append(SignalFact(*fields))
    last_asks = dict(
        session.execute(
            select(Ask.account_id, func.max(Ask.created_for))
            .where(one_of(session, Ask.account_id, account_ids))
            .group_by(Ask.account_id)
        ).all()
    )
    return {
        a.id: AccountState(
            a.id,
            a.segment,
            a.team,
            a.escalation_open,
            a.churn_risk,
            tuple(history.get(a.id, ())),
            last_asks.get(a.id),
        )
        for a in accounts
    }


def insert_moments(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    return insert_ignoring_conflicts(
        session, Moment.__table__, rows, ["account_id", "trigger", "window_key"]
    )


def mark_checked(session: Session, signal_ids: Sequence[int], now: datetime) -> None:
    session.execute(
        update(Signal)
        .where(one_of(session, Signal.id, signal_ids))
        .values(moment_checked_at=now)
        .execution_options(synchronize_session=False)
    )


def audit(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        insert_rows(session, AuditEntry.__table__, rows)


def _without_ask() -> Any:
    return ~select(Ask.id).where(Ask.moment_id == Moment.id).exists()


def _asked_by_owner() -> Any:
    """The moment's account is owned by an active member whose role asks (csm, rep)."""
    return (
        select(TeamMember.id)
        .join(Account, Account.owner_id == TeamMember.id)
        .where(
            Account.id == Moment.account_id,
            TeamMember.active.is_(True),
            TeamMember.role.in_([role.value for role in ASKING_ROLES]),
        )
        .exists()
    )


def moments_without_ask(session: Session, limit: int) -> list[Moment]:
    """Detected moments with no ask yet whose account has an owner who asks: the others wait
    for one without crowding these out."""
    return list(
        session.scalars(
            select(Moment)
            .where(Moment.status == MomentStatus.DETECTED, _without_ask(), _asked_by_owner())
            .order_by(Moment.detected_at, Moment.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # two runs never ask for one moment twice
        )
    )


def drop_moments_detected_before(session: Session, before: datetime) -> int:
    """Moments that waited their whole window (for capacity or for an owner who asks) are no
    longer moments: suppressed as ``waited_too_long``."""
    result = session.execute(
        update(Moment)
        .where(Moment.status == MomentStatus.DETECTED, Moment.detected_at < before, _without_ask())
        .values(status=MomentStatus.SUPPRESSED, suppressed_reason="waited_too_long")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def moments_waiting_for_owner(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Moment)
            .where(Moment.status == MomentStatus.DETECTED, _without_ask(), ~_asked_by_owner())
        )
        or 0
    )


def candidates(session: Session, account_ids: Sequence[int]) -> dict[int, list[Candidate]]:
    """Everyone on these accounts with what scoring needs: latest scores, history."""
    people = session.scalars(
        select(Person).where(one_of(session, Person.account_id, account_ids))
    ).all()
    ids = [p.id for p in people]
    latest: dict[tuple[int, SignalKind], float] = {}
    for person_id, kind, value in session.execute(
        select(Signal.person_id, Signal.kind, Signal.value)
        .where(Signal.person_id.in_(ids), Signal.kind.in_([SignalKind.NPS, SignalKind.CSAT]))
        .order_by(Signal.occurred_at)
    ):
        if value is not None:
            latest[(person_id, kind)] = float(value)
    intros = dict(
        session.execute(
            select(Referral.referrer_person_id, func.count())
            .where(one_of(session, Referral.referrer_person_id, ids))
            .group_by(Referral.referrer_person_id)
        ).all()
    )
    asked = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                Ask.champion_id,
                func.max(Ask.created_for),
                func.count().filter(Ask.status == AskStatus.DECLINED),
                func.max(Ask.outcome_at).filter(Ask.status == AskStatus.DECLINED),
            )
            .where(one_of(session, Ask.champion_id, ids))
            .group_by(Ask.champion_id)
        )
    }
    grouped: dict[int, list[Candidate]] = defaultdict(list)
    for p in people:
        last_asked, declines, last_declined = asked.get(p.id, (None, 0, None))
        grouped[p.account_id or 0].append(
            Candidate(
                person_id=p.id,
                account_id=p.account_id or 0,
                seniority=str(p.seniority),
                linkedin_followers=p.linkedin_followers,
                speaks_at_events=p.speaks_at_events,
                opted_out=p.opted_out,
                nps=latest.get((p.id, SignalKind.NPS)),
                csat=latest.get((p.id, SignalKind.CSAT)),
                intros=intros.get(p.id, 0),
                declines=declines or 0,
                last_asked_at=last_asked,
                last_declined_at=last_declined,
            )
        )
    return grouped


def account_nps(session: Session, account_ids: Sequence[int]) -> dict[int, float]:
    rows = session.execute(
        select(Signal.account_id, func.avg(Signal.value))
        .where(one_of(session, Signal.account_id, account_ids), Signal.kind == SignalKind.NPS)
        .group_by(Signal.account_id)
    ).all()
    return {account_id: float(avg) for account_id, avg in rows if avg is not None}


def asks_per_csm_week(session: Session, csm_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(Ask.csm_id, Ask.week_key, func.count())
        .where(one_of(session, Ask.csm_id, csm_ids), Ask.status != AskStatus.EXPIRED)
        .group_by(Ask.csm_id, Ask.week_key)
    ).all()
    return {(csm, week): n for csm, week, n in rows}


def links_for(
    session: Session, person_ids: Sequence[int], referrer_type: str
) -> dict[int, ReferralLink]:
    rows = session.scalars(
        select(ReferralLink).where(
            one_of(session, ReferralLink.person_id, person_ids),
            ReferralLink.referrer_type_key == referrer_type,
        )
    )
    return {link.person_id: link for link in rows}


def latest_results(session: Session, account_ids: Sequence[int], now: datetime) -> dict[int, str]:
    """The latest ROI result text per account by ``now``: the value the script reminds."""
    results: dict[int, str] = {}
    for account_id, text in session.execute(
        select(Signal.account_id, Signal.text)
        .where(
            one_of(session, Signal.account_id, account_ids),
            Signal.kind == SignalKind.ROI_MILESTONE,
            Signal.text.is_not(None),
            Signal.occurred_at <= now,
        )
        .order_by(Signal.occurred_at)
    ):
        results[account_id] = text
    return results


def latest_renewals(
    session: Session, account_ids: Sequence[int], since: datetime, now: datetime
) -> dict[int, datetime]:
    """When each account last signed a renewal between ``since`` and ``now``; an upcoming
    renewal date is not a result to thank anyone for."""
    rows = session.execute(
        select(Signal.account_id, func.max(Signal.occurred_at))
        .where(
            one_of(session, Signal.account_id, account_ids),
            Signal.kind == SignalKind.RENEWAL_SIGNED,
            Signal.occurred_at >= since,
            Signal.occurred_at <= now,
        )
        .group_by(Signal.account_id)
    ).all()
    return {account_id: at for account_id, at in rows if account_id is not None}


def set_moment_status(
    session: Session, ids: Sequence[int], status: MomentStatus, reason: str | None = None
) -> None:
    if ids:
        session.execute(
            update(Moment)
            .where(one_of(session, Moment.id, ids))
            .values(status=status, suppressed_reason=reason)
            .execution_options(synchronize_session=False)
        )


def people_and_accounts(
    session: Session, person_ids: Sequence[int], account_ids: Sequence[int]
) -> tuple[dict[int, Person], dict[int, Account]]:
    people = {
        p.id: p
        for p in session.scalars(select(Person).where(one_of(session, Person.id, person_ids)))
    }
    accounts = {
        a.id: a
        for a in session.scalars(select(Account).where(one_of(session, Account.id, account_ids)))
    }
    return people, accounts


def team_members(session: Session, ids: Sequence[int]) -> dict[int, TeamMember]:
    return {
        m.id: m
        for m in session.scalars(select(TeamMember).where(one_of(session, TeamMember.id, ids)))
    }


def signals_by_id(session: Session, ids: Sequence[int]) -> dict[int, Signal]:
    return {s.id: s for s in session.scalars(select(Signal).where(one_of(session, Signal.id, ids)))}
