"""detect-moments: signals -> referral moments -> prioritised asks with their words."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from domain.clock import SystemClock, ensure_utc
from tasks.ask_tasks import detect_moments_task
from tasks.detect_moments import MomentReport
from tasks.summary import flow_summary


@flow(name="detect-moments")
def detect_moments_flow(at: datetime | None = None) -> list[dict[str, object]]:
    """Turn new signals into moments (guards applied), then into asks under the weekly caps.
    The artifact `detect-moments` says what it did; `detect-moments-details` every step.

    Args:
        at: run as if at this instant (the demo's and tests' clock); default now.
    """
    now = ensure_utc(at) if at else SystemClock().now()
    with flow_summary("detect-moments", f"Moments and asks at {now.isoformat()}", MomentReport):
        rows = detect_moments_task(now).rows()
    create_table_artifact(
        key="detect-moments-details",
        table=rows,
        description=f"Moments and asks, step by step, at {now.isoformat()}",
    )
    return rows
