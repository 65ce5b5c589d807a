"""Prefect tasks of the CRM sync."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.context import app_context
from tasks.sync_crm import OBJECT_TYPES, SyncReport, sync_crm


@task(name="sync-crm-changes", cache_policy=NO_CACHE, persist_result=False)
def sync_crm_task(object_types: tuple[str, ...] = OBJECT_TYPES) -> SyncReport:
    """Pull CRM changes since the stored watermarks, page by page (one task for all pages)."""
    context = app_context()
    return sync_crm(context.factory, context.adapters.crm, context.program, object_types)
