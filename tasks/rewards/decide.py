"""An approver decides a reward that waits for approval. An approval lets the next
release-rewards run release it (the tax form is checked again then); a rejection voids it.
Both write a ledger row and an audit entry with who and why; a refused decision changes
nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.models import AuditEntry, Reward, TeamMember
from db.repositories import rewards as repo
from domain.program import Program
from domain.rewards.approval import Decider, refusal
from domain.rewards.lifecycle import Step
from domain.statuses import LedgerEntry, RewardStatus

log = logging.getLogger(__name__)


class DecisionError(ValueError):
    """The decision cannot be taken (unknown reward, not an approver, four eyes, not
    awaiting approval)."""


@dataclass(frozen=True)
class Decided:
    reward_id: int
    status: RewardStatus
    actor: str


def decide_reward(
    factory: sessionmaker[Session],
    program: Program,
    reward_id: int,
    approve: bool,
    by_email: str,
    reason: str,
    now: datetime,
    via: Mapping[str, Any] | None = None,
) -> Decided:
    """Approve or reject reward ``reward_id`` as the team member ``by_email``. ``via``: where
    the decision came from (Slack's ids), kept in the same audit entry."""
    with transaction(factory) as session:
        reward = session.get(Reward, reward_id, with_for_update=True)
        if reward is None:
            raise DecisionError(f"reward {reward_id} does not exist")
        member = session.scalar(
            select(TeamMember).where(func.lower(TeamMember.email) == by_email.strip().lower())
        )
        [context] = repo.contexts(session, [reward_id])
        referrer = reward.recipient_email or (context.referrer.email if context.referrer else None)
        why_not = refusal(
            _decider(member),
            reward.status,
            referrer,
            context.account.owner_id if context.account else None,
            program.reward_policy.four_eyes,
        )
        if why_not is not None or member is None:
            raise DecisionError(f"reward {reward_id}: {why_not}")
        actor = f"team_member:{member.id}"
        step = (
            _approval(reward, member, reason, now) if approve else _rejection(reward, reason, now)
        )
        if not repo.apply_steps(session, [(reward, step)], actor, now):
            raise DecisionError(f"reward {reward_id} changed meanwhile: look again")
        session.add(
            AuditEntry(
                occurred_at=now,
                actor=actor,
                action="reward_approved" if approve else "reward_rejected",
                entity_type="reward",
                entity_id=str(reward_id),
                details={
                    "approved": approve,
                    "status": str(step.status),
                    "reason": reason,
                    **(via or {}),
                },
            )
        )
        log.info("reward %s %s by %s", reward_id, step.status, actor)
        return Decided(reward_id, step.status or reward.status, actor)


def _decider(member: TeamMember | None) -> Decider | None:
    if member is None:
        return None
    role = str(member.role) if member.role is not None else None
    return Decider(member.id, member.email, role, member.active)


def _approval(reward: Reward, member: TeamMember, reason: str, now: datetime) -> Step:
    return Step(
        RewardStatus.APPROVED,
        {"approved_by": member.email, "approved_at": now, "wait_reason": None},
        [(LedgerEntry.APPROVED, reward.amount, reason)],
    )


def _rejection(reward: Reward, reason: str, now: datetime) -> Step:
    return Step(
        RewardStatus.VOIDED,
        {"voided_at": now, "void_reason": "rejected_in_approval", "wait_reason": None},
        [
            (LedgerEntry.REJECTED, reward.amount, reason),
            (LedgerEntry.VOIDED, reward.amount, f"rejected in approval: {reason}"),
        ],
    )
