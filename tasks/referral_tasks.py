"""Prefect task of the referral journey (one task run for all batches)."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from integrations.wiring import build_deliverers
from tasks.context import app_context
from tasks.referrals.track import TrackReport, track_referrals


@task(name="track-referrals", cache_policy=NO_CACHE, persist_result=False)
def track_referrals_task(now: datetime) -> TrackReport:
    """Decide pending referrals, push the eligible ones, write the feedback that is due."""
    context = app_context()
    return track_referrals(
        context.factory,
        context.program,
        context.settings,
        build_deliverers(context.adapters),
        now,
        context.dispatch_policy,
    )
