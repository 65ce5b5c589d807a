"""The crash suite's story: how its program differs from the saas preset, how briskly deals
move and CSMs answer, and the seeded choices that keep the story the same across runs."""

from __future__ import annotations

import random

from domain.program import preset_text
from domain.stages import ProgramStage
from simulation.pipeline import StageOdds

# The saas preset with rewards released the day after their milestone (no 30-day hold) and
# the client credit (500) above the approval threshold, so a few simulated days see rewards
# accrue, wait for finance, get released, thanked, queued for payout and exported.
PROGRAM_EDITS = (("delay_days: 30", "delay_days: 0"), ("above_amount: 1000", "above_amount: 400"))
# Deals move briskly, so referrals pushed on one day are won a few days later.
ODDS: dict[ProgramStage, StageOdds] = {
    stage: StageOdds(0.8, 0.03) for stage in ProgramStage if stage is not ProgramStage.CLOSED_LOST
} | {
    ProgramStage.CLOSED_WON: StageOdds(0.8),
    ProgramStage.ONBOARDING: StageOdds(0.8),
    ProgramStage.FIRST_PAYMENT: StageOdds(0.0),
    ProgramStage.CLOSED_LOST: StageOdds(0.0),
}
# A CSM's day with a prompted ask (higher than the demo's, for a short story).
INTRO, DECLINE, COMPLETE_TASK = 0.30, 0.05, 0.25


def edited_preset(edits: tuple[tuple[str, str], ...], preset: str = "saas") -> str:
    """A preset's program file with each ``old`` text replaced (each must be there)."""
    text = preset_text(preset)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def program_text() -> str:
    return edited_preset(PROGRAM_EDITS)


def rng_for(*parts: object) -> random.Random:
    """A generator seeded by what a choice is about (stable across runs), not by row order."""
    return random.Random(":".join(map(str, parts)))
