"""How deals move in the sandbox CRM from one simulated day to the next. Pure and seeded.

Each open deal, each day, advances to the next stage of its pipeline with probability
``advance`` or is lost with probability ``lose`` for its current program stage; a won deal then
reaches its milestones (onboarding, first payment: date properties, as in a real portal); a
lost deal is sometimes reopened. The odds are per program stage and can be overridden
(``REFERRALS_SANDBOX_STAGE_ODDS``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.stages import ProgramStage


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
    milestones: frozenset[ProgramStage] = frozenset()  # post-sale steps reached (date set)


@dataclass(frozen=True)
class StageMove:
    """A deal enters a CRM stage, or (a won deal) reaches a milestone: its date property is
    set."""

    crm_id: str
    at: datetime
    to_stage_id: str | None = None
    milestone: ProgramStage | None = None


def odds_from(overrides: Mapping[str, Mapping[str, float]]) -> dict[ProgramStage, StageOdds]:
    """DEFAULT_ODDS with some stages overridden, e.g. ``{"proposal": {"advance": 0.2}}``."""
    odds = dict(DEFAULT_ODDS)
    for stage_name, values in overrides.items():
        stage = ProgramStage(stage_name)
        base = odds[stage]
        odds[stage] = StageOdds(values.get("advance", base.advance), values.get("lose", base.lose))
    return odds


@dataclass(frozen=True)
class SandboxPipeline:
    """The pipeline deals move through: CRM stage ids in order (open ones, then won and lost),
    their program stages, and the milestones a won deal reaches one after the other."""

    stage_ids: Sequence[str]
    stage_map: Mapping[str, ProgramStage]
    milestones: Sequence[ProgramStage] = ()

    def stage_of(self, deal: OpenDeal) -> ProgramStage | None:
        stage = self.stage_map.get(deal.stage_id)
        if stage is ProgramStage.CLOSED_WON and deal.milestones:
            return max(deal.milestones, key=self.milestones.index)
        return stage

    def first(self, stage: ProgramStage) -> str | None:
        return next((s for s in self.stage_ids if self.stage_map.get(s) is stage), None)

    def next_step(self, deal: OpenDeal) -> tuple[str | None, ProgramStage | None]:
        """(next CRM stage, or next milestone) of a deal moving forward."""
        if self.stage_map.get(deal.stage_id) is ProgramStage.CLOSED_WON:
            ahead = [m for m in self.milestones if m not in deal.milestones]
            return None, (ahead[0] if ahead else None)
        forward = [  # a stage the program does not map is never entered: no way out of it
            s
            for s in self.stage_ids
            if self.stage_map.get(s) not in (None, ProgramStage.CLOSED_LOST)
        ]
        position = forward.index(deal.stage_id) if deal.stage_id in forward else -1
        return (forward[position + 1] if 0 <= position < len(forward) - 1 else None), None


def moves_for_day(
    deals: Sequence[OpenDeal],
    day_start: datetime,
    pipeline: SandboxPipeline,
    rng: random.Random,
    odds: Mapping[ProgramStage, StageOdds] = DEFAULT_ODDS,
) -> list[StageMove]:
    """The moves of one day, at times spread over the working day."""
    moves = []
    for deal in sorted(deals, key=lambda d: d.crm_id):
        stage = pipeline.stage_of(deal)
        if stage is None:
            continue
        chances = odds.get(stage, StageOdds(0.0))
        roll = rng.random()
        at = day_start + timedelta(hours=9, minutes=rng.randrange(8 * 60))
        if stage is ProgramStage.CLOSED_LOST:
            target = pipeline.first(ProgramStage.DISCOVERY) if roll < chances.advance else None
            if target is not None:
                moves.append(StageMove(deal.crm_id, at, to_stage_id=target))
        elif roll < chances.lose:
            lost = pipeline.first(ProgramStage.CLOSED_LOST)
            if lost is not None:
                moves.append(StageMove(deal.crm_id, at, to_stage_id=lost))
        elif roll < chances.lose + chances.advance:
            next_stage, milestone = pipeline.next_step(deal)
            if next_stage is not None or milestone is not None:
                moves.append(StageMove(deal.crm_id, at, next_stage, milestone))
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
