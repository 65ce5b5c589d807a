"""daily-cycle: the program's day in order, as one parent flow run."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from domain.clock import SystemClock, ensure_utc
from flows.detect_moments import detect_moments_flow
from flows.dispatch_outbox import dispatch_outbox_flow
from flows.prompt_csms import prompt_csms_flow
from flows.release_rewards import release_rewards_flow
from flows.sync_crm import sync_crm_flow
from flows.track_referrals import track_referrals_flow
from tasks.summary import flow_summary


@flow(name="daily-cycle")
def daily_cycle_flow(at: datetime | None = None) -> dict[str, object]:
    """sync-crm, track-referrals, release-rewards, detect-moments, prompt-csms (on weekdays),
    dispatch-outbox. The artifact `daily-cycle` holds every child flow's table, each part
    named after its flow; a child that fails stops the day, and the table says where.

    Args:
        at: run the day as if at this instant; default now.
    """
    now = ensure_utc(at) if at else SystemClock().now()
    result: dict[str, object] = {}
    with flow_summary("daily-cycle", f"The day at {now.isoformat()}"):
        result["sync-crm"] = sync_crm_flow(at=now)
        result["track-referrals"] = track_referrals_flow(at=now)
        result["release-rewards"] = release_rewards_flow(at=now)
        result["detect-moments"] = detect_moments_flow(at=now)
        if now.weekday() < 5:
            result["prompt-csms"] = prompt_csms_flow(at=now)
        result["dispatch-outbox"] = dispatch_outbox_flow(at=now)
    return result
