"""What CSMs do with their asks in the demo: seeded, so every run tells the same story."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

# Daily chances for a prompted ask; what is left waits, is re-surfaced once, then expires.
COMPLETE_CRM_TASK = 0.10  # the CSM asked and ticked the CRM task
RECORD_INTRO = 0.04  # the client made an intro, recorded from the CLI
RECORD_DECLINE = 0.03  # the client said no


@dataclass(frozen=True)
class CsmAction:
    ask_id: int
    action: str  # complete_task | intro | declined


def actions_for_day(open_asks: Sequence[tuple[int, bool]], rng: random.Random) -> list[CsmAction]:
    """``open_asks``: (ask id, has a CRM task). One roll per ask per day."""
    actions = []
    for ask_id, has_task in sorted(open_asks):
        roll = rng.random()
        if roll < RECORD_INTRO:
            actions.append(CsmAction(ask_id, "intro"))
        elif roll < RECORD_INTRO + RECORD_DECLINE:
            actions.append(CsmAction(ask_id, "declined"))
        elif has_task and roll < RECORD_INTRO + RECORD_DECLINE + COMPLETE_CRM_TASK:
            actions.append(CsmAction(ask_id, "complete_task"))
    return actions
