"""Prefect tasks of the ask journey: detect moments and create asks, prompt CSMs."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from integrations.wiring import build_deliverers
from tasks.context import app_context
from tasks.detect_moments import MomentReport, detect_moments
from tasks.prompt_csms import PromptReport, prompt_csms


@task(name="detect-moments-and-create-asks", cache_policy=NO_CACHE, persist_result=False)
def detect_moments_task(now: datetime) -> MomentReport:
    """All unchecked signals, batch by batch, then asks for the new moments (one task run)."""
    context = app_context()
    return detect_moments(context.factory, context.program, now)


@task(name="prompt-csms", cache_policy=NO_CACHE, persist_result=False)
def prompt_csms_task(now: datetime) -> PromptReport:
    """Enqueue a digest per CSM and a CRM task per ask, then deliver them (one task run)."""
    context = app_context()
    return prompt_csms(
        context.factory,
        context.program,
        context.adapters.chat,
        build_deliverers(context.adapters),
        now,
        context.dispatch_policy,
    )
