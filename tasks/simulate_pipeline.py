"""One simulated day of the sandbox CRM: deals move through the pipeline (demo only)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import book as repo
from domain.stages import DEFAULT_PIPELINE_ID, ProgramStage
from simulation.pipeline import DEFAULT_ODDS, OpenDeal, StageOdds, moves_for_day, new_deals_for_day


def simulate_pipeline_day(
    factory: sessionmaker[Session],
    day_start: datetime,
    stage_map: Mapping[str, ProgramStage],
    seed: int,
    odds: Mapping[ProgramStage, StageOdds] = DEFAULT_ODDS,
) -> int:
    """Move the sandbox's deals for one day and add the day's deals from other channels; the
    same seed and day always give the same day."""
    final = [s for s, stage in stage_map.items() if stage is ProgramStage.FIRST_PAYMENT]
    closing = {ProgramStage.CLOSED_WON, ProgramStage.CLOSED_LOST}
    post_sale = {ProgramStage.ONBOARDING, ProgramStage.FIRST_PAYMENT}
    rng = random.Random(f"{seed}:{day_start.date().isoformat()}")
    with transaction(factory) as session:
        deals = [OpenDeal(i, s) for i, s in repo.open_sandbox_deals(session, final)]
        moves = moves_for_day(deals, day_start, stage_map, rng, odds)
        repo.move_sandbox_deals(
            session,
            [
                {
                    "b_id": m.crm_id,
                    "b_stage": m.to_stage_id,
                    "b_at": m.at,
                    "b_closed": m.at if stage_map[m.to_stage_id] in closing else None,
                    "b_keep": stage_map[m.to_stage_id] in post_sale,
                }
                for m in moves
            ],
        )
        first_stage = next(
            s for s, stage in stage_map.items() if stage is ProgramStage.LEAD_CAPTURED
        )
        new = new_deals_for_day(repo.sandbox_companies(session), day_start, rng)
        repo.add_sandbox_deals(
            session,
            [
                {
                    "company_id": d.company_id,
                    "name": d.name,
                    "pipeline_id": DEFAULT_PIPELINE_ID,
                    "stage_id": first_stage,
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
