"""One simulated day of the sandbox CRM: deals move through the pipeline (demo only)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import book as repo
from domain.program import StageMap
from domain.stages import ProgramStage, rank, reached
from integrations.sandbox.portal import SANDBOX_PIPELINES
from simulation.pipeline import (
    DEFAULT_ODDS,
    OpenDeal,
    SandboxPipeline,
    StageOdds,
    moves_for_day,
    new_deals_for_day,
)

CLOSING = (ProgramStage.CLOSED_WON, ProgramStage.CLOSED_LOST)


def sandbox_pipeline(stage_map: StageMap) -> SandboxPipeline:
    """The sandbox's sales pipeline as the program maps it (milestones in program order)."""
    default = SANDBOX_PIPELINES[0]
    stages = dict(stage_map.stages) if stage_map.pipeline_id == default.id else {}
    return SandboxPipeline(
        [s.id for s in default.stages], stages, sorted(stage_map.milestones, key=rank)
    )


def simulate_pipeline_day(
    factory: sessionmaker[Session],
    day_start: datetime,
    stage_map: StageMap,
    seed: int,
    odds: Mapping[ProgramStage, StageOdds] = DEFAULT_ODDS,
) -> int:
    """Move the sandbox's deals for one day and add the day's deals from other channels; the
    same seed and day always give the same day."""
    pipeline = sandbox_pipeline(stage_map)
    properties = stage_map.milestones
    final = properties[pipeline.milestones[-1]] if pipeline.milestones else None
    rng = random.Random(f"{seed}:{day_start.date().isoformat()}")
    with transaction(factory) as session:
        rows = repo.open_sandbox_deals(session, SANDBOX_PIPELINES[0].id, final)
        current = {deal_id: props for deal_id, _, props in rows}
        deals = [
            OpenDeal(deal_id, stage_id, frozenset(m for m, p in properties.items() if props.get(p)))
            for deal_id, stage_id, props in rows
        ]
        moves = moves_for_day(deals, day_start, pipeline, rng, odds)
        repo.move_sandbox_deals(
            session,
            [
                {
                    "b_id": m.crm_id,
                    "b_stage": m.to_stage_id,
                    "b_at": m.at,
                    "b_closed": m.at if pipeline.stage_map.get(m.to_stage_id) in CLOSING else None,
                }
                for m in moves
                if m.to_stage_id is not None
            ],
        )
        repo.set_sandbox_deal_properties(
            session,
            [
                {
                    "b_id": m.crm_id,
                    "b_properties": {
                        **current[m.crm_id],
                        properties[m.milestone]: m.at.isoformat(),
                    },
                    "b_at": m.at,
                }
                for m in moves
                if m.milestone is not None
            ],
        )
        # A rep prices a referred deal (pushed without an amount) once it is an opportunity;
        # its own generator, so the day's moves stay what they were.
        pricing = random.Random(f"price:{seed}:{day_start.date().isoformat()}")
        repo.price_sandbox_deals(
            session,
            [
                {"b_id": m.crm_id, "b_amount": Decimal(pricing.randrange(5_000, 60_001, 500))}
                for m in moves
                if m.to_stage_id is not None
                and (stage := pipeline.stage_map.get(m.to_stage_id)) is not None
                and reached(stage, ProgramStage.OPPORTUNITY)
            ],
        )
        new = new_deals_for_day(repo.sandbox_companies(session), day_start, rng)
        repo.add_sandbox_deals(
            session,
            [
                {
                    "company_id": d.company_id,
                    "name": d.name,
                    "pipeline_id": SANDBOX_PIPELINES[0].id,
                    "stage_id": pipeline.stage_ids[0],
                    "amount": d.amount,
                    "source_channel": d.channel,
                    "properties": {},
                    "created_at": d.at,
                    "stage_entered_at": d.at,
                    "closed_at": None,
                    "updated_at": d.at,
                }
                for d in new
            ],
        )
    return len(moves)
