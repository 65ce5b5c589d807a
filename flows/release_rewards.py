"""release-rewards: qualify, hold, approve, release or void rewards; thank-you emails."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from domain.clock import SystemClock, ensure_utc
from tasks.reward_tasks import release_rewards_task


@flow(name="release-rewards")
def release_rewards_flow(at: datetime | None = None) -> list[dict[str, object]]:
    """Accrue what eligible referrals earn, follow their deals (hold at the milestone's own
    CRM time, void or recompute before release, claw back after), and release what is due
    after its hold window, approval and tax form: each exactly once, with a ledger row per
    transition, a thank-you to the referrer and a payout for finance.

    Args:
        at: run as if at this instant (the demo's and tests' clock); default now.
    """
    now = ensure_utc(at) if at else SystemClock().now()
    rows = release_rewards_task(now).rows()
    create_table_artifact(
        key="release-rewards",
        table=rows or [{"step": "-", "count": 0}],
        description=f"Rewards at {now.isoformat()}",
    )
    return rows
