"""Sandbox deals move day by day, deterministically, by the configured odds."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from domain.stages import DEFAULT_STAGE_MAP, HUBSPOT_DEFAULT_STAGES, ProgramStage
from simulation.pipeline import OpenDeal, SandboxPipeline, StageOdds, moves_for_day, odds_from

DAY = datetime(2026, 3, 2, tzinfo=UTC)
DEALS = [OpenDeal(str(i), "qualifiedtobuy") for i in range(2000)]
PIPELINE = SandboxPipeline(
    HUBSPOT_DEFAULT_STAGES,
    DEFAULT_STAGE_MAP,
    (ProgramStage.ONBOARDING, ProgramStage.FIRST_PAYMENT),
)


def test_same_seed_and_day_give_the_same_moves():
    first = moves_for_day(DEALS, DAY, PIPELINE, random.Random("7:2026-03-02"))
    again = moves_for_day(DEALS, DAY, PIPELINE, random.Random("7:2026-03-02"))
    other = moves_for_day(DEALS, DAY, PIPELINE, random.Random("8:2026-03-02"))
    assert first == again != other


def test_odds_decide_advance_and_loss_rates():
    odds = odds_from({"discovery": {"advance": 0.5, "lose": 0.1}})
    moves = moves_for_day(DEALS, DAY, PIPELINE, random.Random(1), odds)
    targets = Counter(DEFAULT_STAGE_MAP[m.to_stage_id or ""] for m in moves)
    assert 900 < targets[ProgramStage.OPPORTUNITY] < 1100
    assert 150 < targets[ProgramStage.CLOSED_LOST] < 250
    assert all(DAY.replace(hour=9) <= m.at < DAY.replace(hour=17) for m in moves)


def test_lost_deals_are_sometimes_reopened_and_the_last_milestone_never_moves():
    lost = [OpenDeal(str(i), "closedlost") for i in range(1000)]
    paid = [
        OpenDeal(
            str(i), "closedwon", frozenset({ProgramStage.ONBOARDING, ProgramStage.FIRST_PAYMENT})
        )
        for i in range(1000, 1100)
    ]
    odds = {ProgramStage.CLOSED_LOST: StageOdds(0.2), ProgramStage.FIRST_PAYMENT: StageOdds(1.0)}
    moves = moves_for_day(lost + paid, DAY, PIPELINE, random.Random(2), odds)
    assert {m.to_stage_id for m in moves} == {"qualifiedtobuy"}  # back to discovery
    assert 150 < len(moves) < 250


def test_won_deals_reach_onboarding_then_first_payment():
    won = [OpenDeal(str(i), "closedwon") for i in range(100)]
    onboarding = [
        OpenDeal(str(i), "closedwon", frozenset({ProgramStage.ONBOARDING})) for i in range(100, 200)
    ]
    odds = {ProgramStage.CLOSED_WON: StageOdds(1.0), ProgramStage.ONBOARDING: StageOdds(1.0)}
    moves = moves_for_day(won + onboarding, DAY, PIPELINE, random.Random(3), odds)
    assert Counter(m.milestone for m in moves) == {
        ProgramStage.ONBOARDING: 100,
        ProgramStage.FIRST_PAYMENT: 100,
    }
    assert all(m.to_stage_id is None for m in moves)


def test_other_channels_keep_feeding_the_pipeline_at_the_configured_rate():
    from simulation.pipeline import CHANNELS, new_deals_for_day

    companies = [(str(i), "smb", f"Co {i}") for i in range(50)]
    days = [
        new_deals_for_day(companies, DAY, random.Random(f"7:{d}"), rate=1.5) for d in range(400)
    ]
    assert 500 < sum(len(d) for d in days) < 700
    assert {deal.channel for day in days for deal in day} == set(CHANNELS)
    assert days[3] == new_deals_for_day(companies, DAY, random.Random("7:3"), rate=1.5)
    assert new_deals_for_day([], DAY, random.Random(1)) == []
