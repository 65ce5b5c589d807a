"""prompt-csms: a Slack digest per CSM and a CRM task per ask."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from domain.clock import SystemClock, ensure_utc
from tasks.ask_tasks import prompt_csms_task
from tasks.prompt_csms import PromptReport
from tasks.summary import flow_summary


@flow(name="prompt-csms")
def prompt_csms_flow(at: datetime | None = None) -> list[dict[str, object]]:
    """Re-surface or expire overdue asks, then prompt each CSM once with their asks.
    The artifact `prompt-csms` says what it did; `prompt-csms-details` every step.

    Args:
        at: run as if at this instant (the demo's and tests' clock); default now.
    """
    now = ensure_utc(at) if at else SystemClock().now()
    with flow_summary("prompt-csms", f"CSM prompts at {now.isoformat()}", PromptReport):
        rows = prompt_csms_task(now).rows()
    create_table_artifact(
        key="prompt-csms-details",
        table=rows,
        description=f"CSM prompts, step by step, at {now.isoformat()}",
    )
    return rows
