"""The review queue: referrals a person decides (personal mailboxes, velocity). An approval
continues the journey (claim, push), a rejection ends it; both go to the audit log with who
and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import AuditEntry, Referral, TeamMember
from db.repositories import referrals as repo
from db.repositories.outbox import enqueue
from domain.program import Program
from domain.referrals.domains import registrable_domain, registrable_set
from domain.statuses import Eligibility
from tasks.referrals.decide import push_message


class ReviewError(ValueError):
    """The decision cannot be taken (unknown referral or reviewer, not in review)."""


@dataclass(frozen=True)
class Reviewed:
    referral_id: int
    outcome: Eligibility
    duplicate_of: int | None = None


def decide_review(
    factory: sessionmaker[Session],
    program: Program,
    referral_id: int,
    approve: bool,
    reviewer_email: str,
    reason: str,
    now: datetime,
) -> Reviewed:
    with transaction(factory) as session:
        reviewer = session.scalar(
            select(TeamMember).where(
                TeamMember.email == reviewer_email.lower(), TeamMember.active.is_(True)
            )
        )
        if reviewer is None:
            raise ReviewError("--by must be an active team member (`referrals team list`)")
        referral = session.get(Referral, referral_id, with_for_update=True)
        if referral is None:
            raise ReviewError(f"referral {referral_id} does not exist")
        if referral.eligibility is not Eligibility.REVIEW:
            raise ReviewError(
                f"referral {referral_id} is {referral.eligibility}, not waiting for review"
            )
        result = _apply(session, program, referral, approve, now)
        referral.reviewed_by, referral.reviewed_at = reviewer.email, now
        referral.review_reason = reason
        session.add(
            AuditEntry(
                occurred_at=now,
                actor=f"team_member:{reviewer.id}",
                action="referral_reviewed",
                entity_type="referral",
                entity_id=str(referral.id),
                details={"approved": approve, "outcome": str(result.outcome), "reason": reason},
            )
        )
        return result


def _apply(
    session: Session, program: Program, referral: Referral, approve: bool, now: datetime
) -> Reviewed:
    if not approve:
        referral.eligibility = Eligibility.INELIGIBLE
        referral.reason_codes = ["rejected_in_review", *referral.reason_codes]
        referral.decision_text = "Ineligible: rejected in review."
        return Reviewed(referral.id, referral.eligibility)
    # A free mailbox's domain names no company: it claims nothing (else every later gmail
    # referral would be its duplicate).
    personal = program.referrer_type(referral.referrer_type_key).eligibility.personal_email_domains
    domain = registrable_domain(referral.referred_domain) if referral.referred_domain else None
    if domain in registrable_set(personal):
        domain = None
    owner = repo.claim_domains(session, [(domain, referral.id)], now)[domain] if domain else None
    if owner not in (None, referral.id):
        referral.eligibility, referral.duplicate_of_id = Eligibility.DUPLICATE, owner
        referral.reason_codes = ["approved_in_review", "duplicate_company"]
        referral.decision_text = f"Duplicate: this company was referred first (referral {owner})."
        return Reviewed(referral.id, referral.eligibility, owner)
    referral.eligibility = Eligibility.ELIGIBLE
    referral.reason_codes = ["approved_in_review", *referral.reason_codes]
    referral.decision_text = "Eligible: approved in review."
    session.flush()
    enqueue(session, [push_message(program, referral)], now)
    return Reviewed(referral.id, referral.eligibility)
