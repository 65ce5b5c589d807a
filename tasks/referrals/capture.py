"""Capture: every share path ends here, one Referral record for all (channel, attribution and
the ask it came from kept, so "ask -> intro" can be counted). Decisions come later, in batches
(track-referrals); capture only records and acknowledges, in one transaction per call.

Callers: the landing page (link, code, QR), `referrals refer` and `referrals import referrals`
(sales-assisted, email intro), sync-crm (a rep's deal carrying a referral code).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import transaction
from db.models import Ask
from db.repositories import referrals as repo
from db.repositories.outbox import enqueue
from db.repositories.suppressions import suppressed
from domain.program import Program
from domain.referral_codes import normalise_code
from domain.referrals.intake import Intake
from domain.statuses import AskStatus, Eligibility, ReferralChannel
from tasks.referrals.emails import ReferrerFacts, referrer_message

OPEN_ASKS = (AskStatus.PENDING, AskStatus.PROMPTED, AskStatus.SNOOZED, AskStatus.ASKED)


@dataclass(frozen=True)
class CaptureInput:
    """One intro as a share path received it. A referrer is named by ``code`` (link, code,
    QR) or by ``referrer_email`` (sales-assisted, email intro)."""

    channel: ReferralChannel
    intake: Intake
    code: str | None = None
    referrer_email: str | None = None
    referrer_type: str | None = None  # default: the link's type, else the client type
    ask_id: int | None = None
    external_id: str | None = None  # stable for files and commands, so a rerun adds nothing
    industry: str | None = None
    crm_deal_id: str | None = None  # a rep's deal to attach to (the deal property path)
    attribution: dict[str, str] = field(default_factory=dict)  # utm, path... no personal data


@dataclass(frozen=True)
class Captured:
    referral_id: int | None
    created: bool
    problem: str | None = None  # unknown code or referrer: nothing was stored
    field: str | None = None  # the input the problem is in (code, referrer_type, ask_id...)


def stable_id(prefix: str, *parts: object) -> str:
    """An external id from the facts themselves: the same intro given twice is one referral."""
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]
    return f"{prefix}:{digest}"


def capture_referrals(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    inputs: Sequence[CaptureInput],
    now: datetime,
) -> list[Captured]:
    """Store each intro (once: a known external id is kept as it is), link its ask, and
    enqueue the referrer's "thanks, we have it" email, all in one transaction."""
    with transaction(factory) as session:
        return capture_in_session(session, program, settings, inputs, now)


def capture_in_session(
    session: Session,
    program: Program,
    settings: Settings,
    inputs: Sequence[CaptureInput],
    now: datetime,
) -> list[Captured]:
    codes = {c: normalise_code(c) for c in {i.code for i in inputs if i.code}}
    by_code = repo.referrers_by_code(session, [c for c in codes.values() if c])
    known_types = {t.key for t in program.referrer_types}
    asks = _existing_asks(session, [i.ask_id for i in inputs if i.ask_id is not None])
    # Only referrers of inputs that can be stored become people: a refused intro (an
    # unknown type, an ask that does not exist) must leave nothing behind.
    emails = sorted(
        {
            i.referrer_email.lower()
            for i in inputs
            if i.referrer_email
            and (i.referrer_type is None or i.referrer_type in known_types)
            and (i.ask_id is None or i.ask_id in asks)
        }
    )
    repo.add_people(session, emails)
    by_email = repo.people_by_email(session, emails)
    default_type = (
        "client"
        if "client" in {t.key for t in program.referrer_types}
        else (program.referrer_types[0].key)
    )
    results: list[Captured | None] = []
    rows: list[dict[str, Any]] = []
    referrers: dict[str, tuple[Any, Any, Any]] = {}
    for item in inputs:
        if item.referrer_type is not None and item.referrer_type not in known_types:
            problem = f"unknown referrer type {item.referrer_type!r}"
            results.append(Captured(None, False, problem, "referrer_type"))
            continue
        if item.ask_id is not None and item.ask_id not in asks:
            # Refused here, not by the database's foreign key, which would undo the batch.
            results.append(Captured(None, False, "no ask has this id", "ask_id"))
            continue
        if item.code:
            found = by_code.get(codes.get(item.code) or "")
            if found is None:
                results.append(Captured(None, False, "unknown referral code", "code"))
                continue
            person, account, owner = found.person, found.account, found.owner
            referrer_type, link_id = item.referrer_type or found.referrer_type, found.link.id
        elif item.referrer_email and item.referrer_email.lower() in by_email:
            person, account, owner = by_email[item.referrer_email.lower()]
            referrer_type, link_id = item.referrer_type or default_type, None
        else:
            problem = "no referrer: give a code or an email"
            results.append(Captured(None, False, problem, "referrer_email"))
            continue
        if referrer_type not in known_types:
            problem = f"unknown referrer type {referrer_type!r}"
            results.append(Captured(None, False, problem, "referrer_type"))
            continue
        external_id = item.external_id or f"{item.channel}:{uuid.uuid4().hex}"
        referrers[external_id] = (person, account, owner)
        intake = item.intake
        rows.append(
            {
                "external_id": external_id,
                "referrer_person_id": person.id,
                "referrer_email": person.email,
                "referrer_type_key": referrer_type,
                "referral_link_id": link_id,
                "ask_id": item.ask_id,
                "channel": item.channel,
                "code": codes.get(item.code) if item.code else None,
                "attribution": dict(item.attribution),
                "referred_company_name": intake.company,
                "referred_domain": intake.domain,
                "referred_first_name": intake.first_name[:100],
                "referred_last_name": intake.last_name[:100],
                "referred_email": intake.contact_email,
                "referred_title": intake.role,
                "referred_industry": item.industry,
                "note": intake.note,
                "eligibility": Eligibility.PENDING,
                "reason_codes": [],
                "crm_deal_id": item.crm_deal_id,
                "submitted_at": now,
            }
        )
        results.append(None)
    ids, fresh = repo.insert_referrals(session, rows) if rows else ({}, set())
    created = {ids[external_id] for external_id in fresh}
    _mark_asks(session, [row["ask_id"] for row in rows if row["ask_id"]], now)  # refused: none
    _acknowledge(session, program, settings, rows, ids, created, referrers, now)
    row_iter = iter(rows)
    reported: set[str] = set()  # a second row with the same external id in one batch: known
    found: list[Captured] = []
    for result in results:
        if result is None:
            external_id = next(row_iter)["external_id"]
            result = _result(external_id, ids, created, external_id in reported)
            reported.add(external_id)
        found.append(result)
    return found


def _existing_asks(session: Session, ask_ids: Sequence[int]) -> set[int]:
    # Ids past a 32-bit column cannot be an ask (and PostgreSQL would refuse to compare them).
    wanted = sorted({i for i in ask_ids if 0 < i < 2**31})
    if not wanted:
        return set()
    return set(session.scalars(select(Ask.id).where(Ask.id.in_(wanted))))


def _result(external_id: str, ids: dict[str, int], created: set[int], repeated: bool) -> Captured:
    referral_id = ids[external_id]
    return Captured(referral_id, referral_id in created and not repeated)


def _mark_asks(session: Session, ask_ids: Sequence[int], now: datetime) -> None:
    """An intro that came from an ask is the ask's best outcome."""
    if ask_ids:
        session.execute(
            update(Ask)
            .where(Ask.id.in_(list(ask_ids)), Ask.status.in_(OPEN_ASKS))
            .values(status=AskStatus.INTRO_MADE, outcome_at=now)
            .execution_options(synchronize_session=False)
        )


def _acknowledge(
    session: Session,
    program: Program,
    settings: Settings,
    rows: Sequence[dict[str, Any]],
    ids: dict[str, int],
    created: set[int],
    referrers: dict[str, tuple[Any, Any, Any]],
    now: datetime,
) -> None:
    """The referrer hears "thanks, we have it" for each new referral (never when suppressed)."""
    fresh = [row for row in rows if ids[row["external_id"]] in created]
    blocked = suppressed(session, [row["referrer_email"] for row in fresh])
    messages = []
    for row in fresh:
        person, _, owner = referrers[row["external_id"]]
        if person.email in blocked:
            continue
        link = program.links.referral_link(row["code"]) if row["code"] else ""
        name = f"{person.first_name} {person.last_name}".strip() or person.email.split("@")[0]
        facts = ReferrerFacts(
            referral_id=ids[row["external_id"]],
            referrer_email=person.email,
            referrer_first_name=person.first_name,
            referrer_name=name,
            referred_company=row["referred_company_name"],
            csm_name=owner.name if owner else program.company_name,
            referral_link=link,
        )
        messages.append(referrer_message(program, settings, "referral_received", facts))
    enqueue(session, messages, now)
