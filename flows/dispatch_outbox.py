"""dispatch-outbox: deliver what the other flows decided to send."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from domain.clock import SystemClock, ensure_utc
from tasks.outbox_report import DispatchReport
from tasks.outbox_tasks import dispatch_outbox_task
from tasks.summary import flow_summary


@flow(name="dispatch-outbox", log_prints=False)
def dispatch_outbox_flow(at: datetime | None = None) -> list[dict[str, object]]:
    """Deliver pending emails, chat messages and CRM writes through the selected adapters.
    The artifact `dispatch-outbox` says what it did (failed rows by outbox id);
    `dispatch-outbox-details` every outcome per channel.

    Args:
        at: run as if at this instant (the demo's and tests' clock); default now.
    """
    now = ensure_utc(at) if at else SystemClock().now()
    with flow_summary("dispatch-outbox", f"Outbox delivery at {now.isoformat()}", DispatchReport):
        rows = dispatch_outbox_task(now).rows()
    create_table_artifact(
        key="dispatch-outbox-details",
        table=rows or [{"channel": "-", "sent": 0}],
        description=f"Outbox delivery per channel and outcome at {now.isoformat()}",
    )
    return rows
