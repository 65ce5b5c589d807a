"""Deciding referrals in batches: the pure rules (`domain.referrals.eligibility`) over facts
gathered set-based, the first valid referral of a company claiming its domain (later ones are
duplicates pointing at it), and the CRM push of each eligible one enqueued in the same
transaction as its decision."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import Referral
from db.repositories import referrals as repo
from db.repositories.outbox import NewMessage, enqueue
from domain.program import Program
from domain.referrals.domains import registrable_domain
from domain.referrals.eligibility import Decision, History, KnownCompany, ReferralFacts, decide
from domain.statuses import Eligibility, OutboxChannel

BATCH = 500


def decide_pending(
    factory: sessionmaker[Session], program: Program, now: datetime, counts: Counter[str]
) -> None:
    """Every pending referral, batch by batch (one transaction each)."""
    while True:
        with transaction(factory) as session:
            batch = repo.pending(session, BATCH)
            if not batch:
                return
            decide_batch(session, program, batch, now, counts)


def decide_batch(
    session: Session,
    program: Program,
    batch: Sequence[Referral],
    now: datetime,
    counts: Counter[str],
) -> None:
    decisions = _decisions(session, program, batch)
    claims = [
        (d.claim_domain, r.id)
        for r, d in zip(batch, decisions, strict=True)
        if d.outcome is Eligibility.ELIGIBLE and d.claim_domain
    ]
    owners = repo.claim_domains(session, claims, now) if claims else {}
    updates, pushes = [], []
    for referral, decision in zip(batch, decisions, strict=True):
        outcome, reasons, text = decision.outcome, [str(r) for r in decision.reasons], decision.text
        duplicate_of = None
        owner = owners.get(decision.claim_domain or "")
        if outcome is Eligibility.ELIGIBLE and owner not in (None, referral.id):
            outcome, duplicate_of = Eligibility.DUPLICATE, owner
            reasons = ["duplicate_company", *reasons]
            text = f"Duplicate: this company was referred first (referral {owner})."
        counts[f"decided: {outcome}"] += 1
        updates.append(
            {
                "b_id": referral.id,
                "b_outcome": outcome,
                "b_reasons": reasons,
                "b_text": text,
                "b_disclosure": decision.disclosure,
                "b_duplicate": duplicate_of,
                "b_at": now,
            }
        )
        if outcome is Eligibility.ELIGIBLE:
            pushes.append(push_message(program, referral))
    _store(session, updates)
    counts["CRM pushes enqueued"] += enqueue(session, pushes, now)


def _decisions(session: Session, program: Program, batch: Sequence[Referral]) -> list[Decision]:
    own_domains = repo.account_domains(
        session, [r.referrer_person_id for r in batch if r.referrer_person_id]
    )
    emails = [r.referrer_email for r in batch if r.referrer_email]
    team = repo.team_emails(session, emails)
    referred = repo.person_ids_by_email(
        session, [r.referred_email for r in batch if r.referred_email]
    )
    domains = sorted(
        {
            d
            for r in batch
            if r.referred_domain
            for d in (r.referred_domain, registrable_domain(r.referred_domain))
            if d
        }
    )
    known = repo.known_companies(session, domains, [r.crm_deal_id for r in batch if r.crm_deal_id])
    earliest = min(r.submitted_at for r in batch) - timedelta(days=30)
    history = repo.referrals_since(
        session, [r.referrer_person_id for r in batch if r.referrer_person_id], earliest
    )
    decisions = []
    for referral in batch:
        facts = ReferralFacts(
            referrer_type=referral.referrer_type_key,
            channel=str(referral.channel),
            referrer_email=referral.referrer_email,
            referrer_person_id=referral.referrer_person_id,
            referrer_is_team_member=(referral.referrer_email or "") in team,
            referrer_company_domain=own_domains.get(referral.referrer_person_id or 0),
            referred_email=referral.referred_email,
            referred_person_id=referred.get(referral.referred_email or ""),
            referred_domain=referral.referred_domain,
            referred_company_name=referral.referred_company_name,
            referred_industry=referral.referred_industry,
        )
        company = _known(known, referral.referred_domain)
        decisions.append(
            decide(
                facts,
                program.referrer_type(referral.referrer_type_key).eligibility,
                program.company_domains,
                company,
                _history(history.get(referral.referrer_person_id or 0, []), referral),
            )
        )
    return decisions


def _known(known: dict[str, tuple[bool, bool]], domain: str | None) -> KnownCompany:
    if not domain:
        return KnownCompany()
    customer, pipeline = False, False
    for candidate in {domain, registrable_domain(domain)}:
        c, p = known.get(candidate or "", (False, False))
        customer, pipeline = customer or c, pipeline or p
    return KnownCompany(is_customer=customer, has_open_pipeline=pipeline)


def _history(times: Sequence[datetime], referral: Referral) -> History:
    """The referrer's referrals before this one: in the day and the 30 days before it."""
    before = [
        t for t in times if t < referral.submitted_at
    ]  # same-instant submissions count neither way
    return History(
        referrals_last_day=sum(1 for t in before if referral.submitted_at - t <= timedelta(days=1)),
        referrals_last_30_days=sum(
            1 for t in before if referral.submitted_at - t <= timedelta(days=30)
        ),
    )


def _store(session: Session, updates: Sequence[dict[str, Any]]) -> None:
    if not updates:
        return
    table = Referral.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.eligibility == Eligibility.PENDING)
        .values(
            eligibility=bindparam("b_outcome"),
            reason_codes=bindparam("b_reasons", type_=table.c.reason_codes.type),
            decision_text=bindparam("b_text"),
            disclosure=bindparam("b_disclosure"),
            duplicate_of_id=bindparam("b_duplicate"),
            decided_at=bindparam("b_at", type_=table.c.decided_at.type),
        ),
        list(updates),
    )


def push_message(program: Program, referral: Referral) -> NewMessage:
    """The CRM write of an eligible referral: company, contact and deal at the intro stage of
    the program's pipeline (or the rep's deal that carries the code), through the outbox."""
    stage_map = program.stage_map
    return NewMessage(
        channel=OutboxChannel.CRM,
        operation="push_referral",
        recipient=referral.referred_domain or referral.external_id,
        dedupe_key=f"crm-push:referral:{referral.id}",
        template="referral_push",
        subject_type="referral",
        subject_id=referral.id,
        payload={
            "referral_key": referral.external_id,
            "company_name": referral.referred_company_name,
            "company_domain": referral.referred_domain,
            "contact_email": referral.referred_email,
            "contact_first_name": referral.referred_first_name,
            "contact_last_name": referral.referred_last_name,
            "contact_title": referral.referred_title,
            "deal_name": f"{referral.referred_company_name} (referral)",
            "pipeline_id": stage_map.pipeline_id,
            "stage_id": stage_map.intro_stage_id(),
            "referred_by_email": referral.referrer_email or "",
            "referrer_type": referral.referrer_type_key,
            "existing_deal_id": referral.crm_deal_id,
        },
    )
