"""How deals move in the sandbox CRM from one simulated day to the next. Pure and seeded.

Each open deal, each day, advances to the next stage with probability ``advance`` or is lost
with probability ``lose`` for its current stage; a lost deal is sometimes reopened. The odds
are per program stage and can be overridden (``REFERRALS_SANDBOX_STAGE_ODDS``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.stages import FORWARD_ORDER, ProgramStage


@dataclass(frozen=True)
class StageOdds:
    advance: float  # chance per day of moving to the next stage
    lose: float = 0.0  # chance per day of closing lost


DEFAULT_ODDS: dict[ProgramStage, StageOdds] = {
    ProgramStage.INTRODUCTION: StageOdds(0.25, 0.02),
    ProgramStage.LEAD_CAPTURED: StageOdds(0.20, 0.02),
    ProgramStage.SALES_ACCEPTED: StageOdds(0.12, 0.02),
    ProgramStage.DISCOVERY: StageOdds(0.08, 0.015),
    ProgramStage.OPPORTUNITY: StageOdds(0.06, 0.015),
    ProgramStage.PROPOSAL: StageOdds(0.05, 0.02),
    ProgramStage.CLOSED_WON: StageOdds(0.10),
    ProgramStage.ONBOARDING: StageOdds(0.05),
    ProgramStage.FIRST_PAYMENT: StageOdds(0.0),
    ProgramStage.CLOSED_LOST: StageOdds(0.003),  # "advance" from lost = reopened
}


@dataclass(frozen=True)
class OpenDeal:
    crm_id: str
    stage_id: str


@dataclass(frozen=True)
class StageMove:
    crm_id: str
    to_stage_id: str
    at: datetime


def odds_from(overrides: Mapping[str, Mapping[str, float]]) -> dict[ProgramStage, StageOdds]:
    """DEFAULT_ODDS with some stages overridden, e.g. ``{"proposal": {"advance": 0.2}}``."""
    odds = dict(DEFAULT_ODDS)
    for stage_name, values in overrides.items():
        stage = ProgramStage(stage_name)
        base = odds[stage]
        odds[stage] = StageOdds(values.get("advance", base.advance), values.get("lose", base.lose))
    return odds


def moves_for_day(
    deals: Sequence[OpenDeal],
    day_start: datetime,
    stage_map: Mapping[str, ProgramStage],
    rng: random.Random,
    odds: Mapping[ProgramStage, StageOdds] = DEFAULT_ODDS,
) -> list[StageMove]:
    """The stage moves of one day, at times spread over the working day."""
    first_id = {stage: crm for crm, stage in reversed(list(stage_map.items()))}
    moves = []
    for deal in sorted(deals, key=lambda d: d.crm_id):
        stage = stage_map.get(deal.stage_id)
        if stage is None:
            continue
        chances = odds.get(stage, StageOdds(0.0))
        roll = rng.random()
        at = day_start + timedelta(hours=9, minutes=rng.randrange(8 * 60))
        if stage is ProgramStage.CLOSED_LOST:
            target = ProgramStage.DISCOVERY if roll < chances.advance else None
        elif roll < chances.lose:
            target = ProgramStage.CLOSED_LOST
        elif roll < chances.lose + chances.advance:
            position = FORWARD_ORDER.index(stage)
            target = FORWARD_ORDER[position + 1] if position + 1 < len(FORWARD_ORDER) else None
        else:
            target = None
        if target is not None and target in first_id:
            moves.append(StageMove(deal.crm_id, first_id[target], at))
    return moves


NEW_DEALS_PER_DAY = 1.2  # other channels keep feeding the pipeline (the referral baseline)
CHANNELS = ("inbound", "outbound", "partner", "event")
AMOUNT_BY_SEGMENT = {
    "smb": (4_000, 15_000),
    "mid_market": (15_000, 60_000),
    "enterprise": (60_000, 250_000),
}


@dataclass(frozen=True)
class NewDeal:
    company_id: str
    name: str
    channel: str
    amount: int
    at: datetime


def new_deals_for_day(
    companies: Sequence[tuple[str, str | None, str]],
    day_start: datetime,
    rng: random.Random,
    rate: float = NEW_DEALS_PER_DAY,
) -> list[NewDeal]:
    """Deals from channels other than referrals: ``companies`` are (id, segment, name)."""
    if not companies:
        return []
    count = int(rate) + (1 if rng.random() < rate - int(rate) else 0)
    deals = []
    for _ in range(count):
        company_id, segment, name = rng.choice(sorted(companies))
        low, high = AMOUNT_BY_SEGMENT.get(segment or "", (5_000, 20_000))
        channel = rng.choice(CHANNELS)
        deals.append(
            NewDeal(
                company_id,
                f"{name} - {channel} {day_start.date().isoformat()}",
                channel,
                rng.randrange(low, high, 500),
                day_start + timedelta(hours=9, minutes=rng.randrange(8 * 60)),
            )
        )
    return deals
