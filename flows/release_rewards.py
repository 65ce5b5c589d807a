"""release-rewards: qualify, hold, approve, release or void rewards; thank-you emails."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from domain.clock import SystemClock, ensure_utc
from tasks.reward_tasks import release_rewards_task
from tasks.rewards.release import RewardReport
from tasks.summary import flow_summary


@flow(name="release-rewards")
def release_rewards_flow(at: datetime | None = None) -> list[dict[str, object]]:
    """Accrue what eligible referrals earn, follow their deals (hold at the milestone's own
    CRM time, void or recompute before release, claw back after), and release what is due
    after its hold window, approval and tax form: each exactly once, with a ledger row per
    transition, a thank-you to the referrer and a payout for finance. The artifact
    `release-rewards` says what it did; `release-rewards-details` every step.

    Args:
        at: run as if at this instant (the demo's and tests' clock); default now.
    """
    now = ensure_utc(at) if at else SystemClock().now()
    with flow_summary("release-rewards", f"Rewards at {now.isoformat()}", RewardReport):
        rows = release_rewards_task(now).rows()
    create_table_artifact(
        key="release-rewards-details",
        table=rows or [{"step": "-", "count": 0}],
        description=f"Rewards, step by step, at {now.isoformat()}",
    )
    return rows
