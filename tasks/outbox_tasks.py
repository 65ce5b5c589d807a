"""Prefect task wrapping the outbox dispatcher (one task run for all due batches)."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from integrations.wiring import build_deliverers
from tasks.context import app_context
from tasks.outbox_dispatch import dispatch_outbox
from tasks.outbox_report import DispatchReport


@task(name="dispatch-outbox-batches", cache_policy=NO_CACHE, persist_result=False)
def dispatch_outbox_task(now: datetime) -> DispatchReport:
    """Deliver every due outbox row (the report's rows: one per channel)."""
    context = app_context()
    return dispatch_outbox(
        context.factory, build_deliverers(context.adapters), now, context.dispatch_policy
    )
