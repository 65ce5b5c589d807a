"""Prefect task of the rewards (one task run for all batches)."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.context import app_context
from tasks.rewards.release import RewardReport, release_rewards


@task(name="release-rewards", cache_policy=NO_CACHE, persist_result=False)
def release_rewards_task(now: datetime) -> RewardReport:
    """Accrue, follow deals, release what is due: every reward of the program in one run."""
    context = app_context()
    return release_rewards(context.factory, context.program, context.settings, now)
