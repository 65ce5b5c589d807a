"""track-referrals: eligibility, CRM push, stage progress, referrer feedback."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from domain.clock import SystemClock, ensure_utc
from tasks.referral_tasks import track_referrals_task
from tasks.referrals.track import TrackReport
from tasks.summary import flow_summary


@flow(name="track-referrals")
def track_referrals_flow(at: datetime | None = None) -> list[dict[str, object]]:
    """Decide captured referrals by the program's rules, push the eligible ones to the CRM,
    and tell referrers (email) and CSMs (Slack) how their intros move. The artifact
    `track-referrals` says what it did; `track-referrals-details` every step.

    Args:
        at: run as if at this instant (the demo's and tests' clock); default now.
    """
    now = ensure_utc(at) if at else SystemClock().now()
    with flow_summary("track-referrals", f"Referrals at {now.isoformat()}", TrackReport):
        rows = track_referrals_task(now).rows()
    create_table_artifact(
        key="track-referrals-details",
        table=rows or [{"step": "-", "count": 0}],
        description=f"Referrals, step by step, at {now.isoformat()}",
    )
    return rows
