"""Which email tells a referrer what became of their intro (the seed's feedback loop:
confirmation of contact, what happened next without confidential detail, thanks even if it
did not close). Pure.

One email per step and referral at most, never one for a step below one already sent: a deal
that moves back and forth does not write twice.
"""

from __future__ import annotations

from collections.abc import Collection

from domain.stages import ProgramStage, rank, reached

# (template, step): a later step supersedes an earlier one; won and lost are both final.
STEPS: tuple[tuple[str, int], ...] = (
    ("intro_contacted", 1),
    ("intro_progressed", 2),
    ("thanks_closed_won", 3),
    ("thanks_closed_lost", 3),
)
TEMPLATES = tuple(template for template, _ in STEPS)
_STEP = dict(STEPS)


def feedback_due(stage: ProgramStage, intro: ProgramStage, sent: Collection[str]) -> str | None:
    """The email the deal's program ``stage`` calls for, or None. ``intro`` is the stage a
    referral's deal starts at: "contacted" needs a stage past it (a deal we just created was
    not contacted yet)."""
    if stage is ProgramStage.CLOSED_LOST:
        due = "thanks_closed_lost"
    elif reached(stage, ProgramStage.CLOSED_WON):
        due = "thanks_closed_won"
    elif reached(stage, ProgramStage.OPPORTUNITY):
        due = "intro_progressed"
    elif rank(stage) > rank(intro) or (
        rank(intro) < rank(ProgramStage.LEAD_CAPTURED)
        and reached(stage, ProgramStage.LEAD_CAPTURED)
    ):
        due = "intro_contacted"
    else:
        return None
    done = max((_STEP[t] for t in sent if t in _STEP), default=0)
    return due if _STEP[due] > done else None
