"""Every flow by its name, for `referrals run NAME` and for prefect.yaml's deployments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flows.daily_cycle import daily_cycle_flow
from flows.detect_moments import detect_moments_flow
from flows.dispatch_outbox import dispatch_outbox_flow
from flows.program_report import program_report_flow
from flows.prompt_csms import prompt_csms_flow
from flows.release_rewards import release_rewards_flow
from flows.sync_crm import sync_crm_flow
from flows.track_referrals import track_referrals_flow

FLOWS: dict[str, Callable[..., Any]] = {
    "sync-crm": sync_crm_flow,
    "detect-moments": detect_moments_flow,
    "prompt-csms": prompt_csms_flow,
    "track-referrals": track_referrals_flow,
    "release-rewards": release_rewards_flow,
    "dispatch-outbox": dispatch_outbox_flow,
    "program-report": program_report_flow,
    "daily-cycle": daily_cycle_flow,
}


def run_flow(name: str, at: datetime | None = None) -> Any:
    try:
        flow = FLOWS[name]
    except KeyError:
        raise ValueError(f"unknown flow {name!r}; known: {', '.join(sorted(FLOWS))}") from None
    return flow(at=at)
