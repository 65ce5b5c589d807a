"""detect-moments and prompt-csms through Prefect, with sandbox adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from domain.signals import SignalKind as K
from flows.registry import run_flow
from tests.scenario import World

pytestmark = pytest.mark.prefect
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_moments_become_asks_and_csms_are_prompted_once(flow_env, committed_factory):
    w = World(committed_factory)
    csm = w.csm()
    for i in range(3):
        account = w.account(csm)
        w.person(account)
        w.signal(account, K.NPS, NOW - timedelta(hours=i + 1), 10)

    detected = {r["step"]: r["count"] for r in run_flow("detect-moments", at=NOW)}
    prompted = {r["step"]: r["count"] for r in run_flow("prompt-csms", at=NOW)}
    again = {r["step"]: r["count"] for r in run_flow("prompt-csms", at=NOW)}

    assert detected["asks created"] == 3
    assert (prompted["Slack digests enqueued"], prompted["CRM tasks enqueued"]) == (1, 3)
    assert (prompted["delivered: chat"], prompted["delivered: crm"]) == (1, 3)
    assert again["Slack digests enqueued"] == 0 and again["delivered: chat"] == 0
    lines = (flow_env / "chat.log").read_text().splitlines()
    assert len(lines) == 1 and len(json.loads(lines[0])["blocks"]) > 3
