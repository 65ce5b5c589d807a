"""What finance does with released rewards: take them in numbered export batches, mark them
paid with their payment reference, and record who has a tax form on file.

An export lists released rewards whose payout the finance queue accepted, once (again only
when asked), and, in every export until netting settles it, one ``to_recover`` row per
recipient who owes money from a clawed-back reward.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import (
    AuditEntry,
    OutboxMessage,
    Person,
    Reward,
    RewardExport,
    RewardLedgerEntry,
    TaxForm,
    TeamMember,
)
from db.repositories import rewards as repo
from domain.rewards.lifecycle import Step
from domain.statuses import LedgerEntry, OutboxChannel, OutboxStatus, RewardStatus
from domain.text import clean_text, normalise_email
from tasks.signal_files import RawRow, parse_rows, read_rows

log = logging.getLogger(__name__)

COLUMNS = (
    "batch",
    "kind",
    "reward_id",
    "recipient_email",
    "reward_type",
    "gross_amount",
    "net_amount",
    "to_recover",
    "currency",
    "released_at",
    "referral_id",
    "rule_key",
    "part",
    "note",
    "reference",  # left empty: finance fills it and returns the file to `mark-paid --from-csv`
)


class FinanceError(ValueError):
    """The command cannot run (unknown --by, a file that cannot be written)."""


def actor_of(session: Session, by: str | None, default: str) -> str:
    """``team_member:{id}`` for ``--by`` (ids, never emails, in the ledger and logs)."""
    if by is None:
        return default
    member_id = session.scalar(
        select(TeamMember.id).where(
            TeamMember.email == by.strip().lower(), TeamMember.active.is_(True)
        )
    )
    if member_id is None:
        raise FinanceError(
            "--by must be an active team member (`referrals team add EMAIL --role admin` "
            "adds someone from finance)"
        )
    return f"team_member:{member_id}"


# -- export ------------------------------------------------------------------------------


@dataclass
class Export:
    batch: int | None
    new: int
    total: Decimal
    to_recover: int
    path: Path


def _queued_at_finance() -> Any:
    return exists().where(
        OutboxMessage.channel == OutboxChannel.FULFILMENT,
        OutboxMessage.subject_type == "reward",
        OutboxMessage.subject_id == Reward.id,
        OutboxMessage.status == OutboxStatus.SENT,
    )


def _exportable(session: Session, again: bool) -> list[Reward]:
    """Released, non-recognition rewards finance has in its queue and not in a batch yet
    (``again``: exported ones too, while unpaid), locked for this transaction."""
    where = [
        Reward.status == RewardStatus.RELEASED,
        Reward.reward_type != "recognition",
        _queued_at_finance(),
    ]
    if not again:
        where.append(Reward.export_batch.is_(None))
    # Locked in id order, like mark-paid and release-rewards, so none of them can deadlock
    # another; listed by release time.
    locked = list(
        session.scalars(select(Reward).where(*where).order_by(Reward.id).with_for_update())
    )
    return sorted(locked, key=lambda r: (r.released_at or datetime.min.replace(tzinfo=UTC), r.id))


def _owed(session: Session) -> list[tuple[str, str, Decimal, list[int]]]:
    """(recipient, currency, amount still to recover, clawed-back reward ids) per recipient."""
    email = func.coalesce(Reward.recipient_email, "")
    recipients = list(
        session.scalars(
            select(email)
            .join(RewardLedgerEntry, RewardLedgerEntry.reward_id == Reward.id)
            .where(RewardLedgerEntry.entry == LedgerEntry.CLAWED_BACK)
            .distinct()
        )
    )
    debts = repo.debts(session, recipients) if recipients else {}
    ids = [reward_id for owed in debts.values() for reward_id, _ in owed]
    currency = dict(
        session.execute(select(Reward.id, Reward.currency).where(Reward.id.in_(ids))).all()
    )
    rows: dict[tuple[str, str], tuple[Decimal, list[int]]] = {}
    for who, owed in sorted(debts.items()):
        for reward_id, amount in owed:
            total, from_ids = rows.get((who, currency[reward_id]), (Decimal(0), []))
            rows[(who, currency[reward_id])] = (total + amount, [*from_ids, reward_id])
    return [(who, c, total, from_ids) for (who, c), (total, from_ids) in rows.items()]


def _net(reward: Reward) -> Decimal:
    return reward.net_amount if reward.net_amount is not None else reward.amount


def _payout_row(batch: int | None, reward: Reward) -> dict[str, Any]:
    return {
        "batch": batch,
        "kind": "payout",
        "reward_id": reward.id,
        "recipient_email": reward.recipient_email,
        "reward_type": reward.reward_type,
        "gross_amount": reward.amount,
        "net_amount": _net(reward),
        "currency": reward.currency,
        "released_at": reward.released_at.isoformat() if reward.released_at else "",
        "referral_id": reward.referral_id,
        "rule_key": reward.rule_key,
        "part": f"{reward.part_index + 1}/{reward.parts}",
        "note": "" if reward.export_batch is None else f"again: was in batch {reward.export_batch}",
    }


def _recover_row(batch: int | None, owed: tuple[str, str, Decimal, list[int]]) -> dict[str, Any]:
    who, currency, amount, from_ids = owed
    return {
        "batch": batch,
        "kind": "to_recover",
        "reward_id": " ".join(str(i) for i in from_ids),
        "recipient_email": who,
        "to_recover": amount,
        "currency": currency,
        "note": "owed from clawed-back rewards; netted from the recipient's next reward",
    }


def export_released(
    factory: sessionmaker[Session],
    path: Path,
    by: str | None,
    now: datetime,
    again: bool = False,
) -> Export:
    """Write the next batch to ``path`` (CSV). The file is written before the commit and
    moved into place after it: a failed commit leaves no file, and the rare batch whose file
    could not be moved into place is listed again by ``again``."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with transaction(factory) as session:
            actor = actor_of(session, by, "cli:rewards-export")
            rewards = _exportable(session, again)
            owed = _owed(session)
            total = sum((_net(r) for r in rewards), Decimal(0))
            batch = None
            if rewards:
                record = RewardExport(
                    created_at=now,
                    created_by=actor,
                    rows=len(rewards),
                    total=total,
                    file_name=path.name,
                )
                session.add(record)
                session.flush()
                batch = record.id
            rows = [_payout_row(batch, r) for r in rewards]
            rows += [_recover_row(batch, o) for o in owed]
            _write_csv(partial, rows)
            _mark_exported(session, rewards, batch, actor, now)
        os.replace(partial, path)
    except OSError as error:
        raise FinanceError(f"{path}: cannot be written ({error.strerror})") from None
    finally:
        partial.unlink(missing_ok=True)
    log.info("export batch %s: %s rewards, %s to recover", batch, len(rewards), len(owed))
    return Export(batch, len(rewards), total, len(owed), path)


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _mark_exported(
    session: Session, rewards: Sequence[Reward], batch: int | None, actor: str, now: datetime
) -> None:
    if batch is None:
        return
    steps = [
        (
            reward,
            Step(
                fields={"export_batch": batch},
                entries=[(LedgerEntry.EXPORTED, _net(reward), f"export batch {batch}")],
            ),
        )
        for reward in rewards
    ]
    applied = repo.apply_steps(session, steps, actor, now)
    if len(applied) != len(steps):  # the rows are locked: nothing can move them meanwhile
        raise RuntimeError(f"export batch {batch}: a reward changed while it was exported")


# -- mark paid ---------------------------------------------------------------------------


@dataclass
class Payments:
    """What marking rewards paid did; ``errors`` name each refused id (and line, from a
    file)."""

    read: int = 0
    skipped: int = 0  # to_recover rows of a returned export: nothing to pay
    paid: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def mark_paid(
    factory: sessionmaker[Session],
    reward_ids: Sequence[int],
    reference: str,
    by: str | None,
    now: datetime,
) -> Payments:
    """Released rewards become paid with ``reference``; paid ones stay as they are; any
    other is refused, by id with its status."""
    report = Payments(read=len(reward_ids))
    _pay(factory, [(None, i, reference) for i in reward_ids], by, now, report)
    return report


def mark_paid_from_csv(
    factory: sessionmaker[Session], path: Path, by: str | None, now: datetime
) -> Payments:
    """A file (CSV or JSON lines) with ``reward_id`` and ``reference`` per row (an export
    with its ``reference`` column filled in will do); bad rows are named by line and field,
    the good ones are kept. A file that cannot be read at all raises ``SignalFileError``."""
    report = Payments()
    good = parse_rows(_payout_rows(read_rows(path), report), _parse_paid_row, report)
    _pay(factory, [(line, rid, ref) for line, (rid, ref) in good], by, now, report)
    return report


def _payout_rows(rows: Iterable[RawRow], report: Payments) -> Iterator[RawRow]:
    for row in rows:
        if row.values is not None and row.values.get("kind") == "to_recover":
            report.skipped += 1
        else:
            yield row


def _parse_paid_row(raw: Mapping[str, Any]) -> tuple[tuple[int, str] | None, list[str]]:
    errors = []
    text = clean_text(raw.get("reward_id"))
    reward_id = int(text) if re.fullmatch(r"[0-9]{1,18}", text) else None
    if reward_id is None:
        errors.append("field 'reward_id': " + ("is not a reward id" if text else "is required"))
    reference = clean_text(raw.get("reference"), 200)
    if not reference:
        errors.append("field 'reference': is required")
    if errors or reward_id is None:
        return None, errors
    return (reward_id, reference), []


def _paid_after_clawback(reward: Reward) -> bool:
    return reward.status is RewardStatus.CLAWED_BACK and reward.export_batch is not None


def _pay(
    factory: sessionmaker[Session],
    items: Sequence[tuple[int | None, int, str]],
    by: str | None,
    now: datetime,
    report: Payments,
) -> None:
    with transaction(factory) as session:
        actor = actor_of(session, by, "cli:rewards-mark-paid")
        ids = sorted({reward_id for _, reward_id, _ in items})
        found = {
            r.id: r
            for r in session.scalars(
                select(Reward).where(Reward.id.in_(ids)).order_by(Reward.id).with_for_update()
            )
        }
        steps: list[tuple[Reward, Step]] = []
        planned: set[int] = set()
        for line, reward_id, reference in items:
            reward = found.get(reward_id)
            where = f"line {line}, field 'reward_id': " if line is not None else ""
            if reward is not None and (
                reward.status is RewardStatus.PAID or reward.paid_at or reward_id in planned
            ):
                report.unchanged.append(reward_id)
            elif reward is not None and _paid_after_clawback(reward):
                # Finance paid an exported reward before its deal was lost: the payment is
                # recorded (the debt it makes is already to recover), the status stays.
                planned.add(reward_id)
                note = f"payment reference {reference}, after the clawback: recovered by netting"
                step = Step(
                    None,
                    {"paid_at": now, "payment_reference": reference},
                    [(LedgerEntry.PAID, _net(reward), note)],
                )
                steps.append((reward, step))
            elif reward is None or reward.status is not RewardStatus.RELEASED:
                state = f"is {reward.status}" if reward else "does not exist"
                report.rejected += 1
                report.errors.append(f"{where}reward {reward_id} {state}, not released")
            else:
                planned.add(reward_id)
                note = f"payment reference {reference}"
                step = Step(
                    RewardStatus.PAID,
                    {"paid_at": now, "payment_reference": reference},
                    [(LedgerEntry.PAID, _net(reward), note)],
                )
                steps.append((reward, step))
        for reward, _ in repo.apply_steps(session, steps, actor, now):
            report.paid.append(reward.id)
    log.info("marked paid: %s; unchanged: %s", report.paid, report.unchanged)


# -- tax forms ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxFormChange:
    changed: bool
    on_file: bool
    waiting: int  # rewards awaiting a tax form for this recipient


def record_tax_form(
    factory: sessionmaker[Session], email: str, by: str | None, now: datetime, on_file: bool
) -> TaxFormChange:
    """Record that finance has (or no longer has) ``email``'s tax form. Rewards waiting for
    it are released by the next release-rewards run."""
    address = normalise_email(email)
    if address is None:
        raise FinanceError("EMAIL is not an email address")
    with transaction(factory) as session:
        actor = actor_of(session, by, "cli:tax-form")
        form = session.get(TaxForm, address, with_for_update=True)
        changed = (form is None) == on_file
        if changed and on_file:
            session.add(TaxForm(email=address, recorded_at=now, recorded_by=actor))
        elif changed and form is not None:
            session.delete(form)
        if changed:
            session.add(
                AuditEntry(
                    occurred_at=now,
                    actor=actor,
                    action="tax_form_on_file" if on_file else "tax_form_missing",
                    entity_type="recipient",
                    entity_id=_recipient_id(session, address),
                    details={"on_file": on_file},
                )
            )
        waiting = session.scalar(
            select(func.count())
            .select_from(Reward)
            .where(
                Reward.recipient_email == address,
                Reward.status == RewardStatus.AWAITING_TAX_FORM,
            )
        )
    log.info("tax form of recipient %s: on file %s", _digest(address), on_file)
    return TaxFormChange(changed, on_file, waiting or 0)


def _recipient_id(session: Session, email: str) -> str:
    """The person's id when the CRM knows them, else a digest: no email in the audit log."""
    person = session.scalar(select(Person.id).where(Person.email == email).limit(1))
    return f"person:{person}" if person is not None else f"sha256:{_digest(email)}"


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]
