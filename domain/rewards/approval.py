"""Who may decide a reward that waits for approval. Pure.

Approvers are team members with the approver role (admins too: they run the program). The
four-eyes option keeps the people closest to the referral from approving it: the CSM who
owns the referring account, and the referrer themself.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.statuses import RewardStatus

DECIDERS = frozenset({"approver", "admin"})


@dataclass(frozen=True)
class Decider:
    team_member_id: int
    email: str
    role: str | None
    active: bool


def refusal(
    decider: Decider | None,
    status: RewardStatus,
    referrer_email: str | None,
    account_csm_id: int | None,
    four_eyes: bool,
) -> str | None:
    """Why ``decider`` may not decide this reward now, or None when they may."""
    if decider is None or not decider.active:
        return "only an active team member can decide (`referrals team list`)"
    if decider.role not in DECIDERS:
        return f"{decider.email} is not an approver (role {decider.role or 'none'})"
    if status is not RewardStatus.AWAITING_APPROVAL:
        return f"the reward is {status}, not awaiting approval"
    if four_eyes and account_csm_id == decider.team_member_id:
        return "four eyes: the CSM of the referring account cannot approve its reward"
    if four_eyes and referrer_email and referrer_email.lower() == decider.email.lower():
        return "four eyes: the referrer cannot approve their own reward"
    return None
