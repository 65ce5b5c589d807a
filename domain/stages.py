"""Program stages of a referred deal and the mapping from CRM pipeline stages.

The CRM stays the source of truth: a deal's CRM stage id is mapped to one of these program
stages through the program's ``stage_map``. Order matters for "progress" comparisons;
``closed_lost`` is terminal and sits outside the forward order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class ProgramStage(StrEnum):
    INTRODUCTION = "introduction"
    LEAD_CAPTURED = "lead_captured"
    SALES_ACCEPTED = "sales_accepted"
    DISCOVERY = "discovery"
    OPPORTUNITY = "opportunity"
    PROPOSAL = "proposal"
    CLOSED_WON = "closed_won"
    ONBOARDING = "onboarding"
    FIRST_PAYMENT = "first_payment"
    CLOSED_LOST = "closed_lost"


FORWARD_ORDER: tuple[ProgramStage, ...] = tuple(
    s for s in ProgramStage if s is not ProgramStage.CLOSED_LOST
)
_RANK = {stage: i for i, stage in enumerate(FORWARD_ORDER)}

# HubSpot's default deal pipeline ("Sales Pipeline", id ``default``), stage ids in its order.
# The sandbox CRM has the same pipeline, and the presets map every one of its stages.
DEFAULT_PIPELINE_ID = "default"
HUBSPOT_DEFAULT_STAGES: tuple[str, ...] = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
# In pipeline order, so a deal moving forward in the CRM moves forward in the program too:
# a booked meeting means sales accepted the intro; "qualified to buy" comes out of discovery.
DEFAULT_STAGE_MAP: dict[str, ProgramStage] = {
    "appointmentscheduled": ProgramStage.SALES_ACCEPTED,
    "qualifiedtobuy": ProgramStage.DISCOVERY,
    "presentationscheduled": ProgramStage.OPPORTUNITY,
    "decisionmakerboughtin": ProgramStage.OPPORTUNITY,
    "contractsent": ProgramStage.PROPOSAL,
    "closedwon": ProgramStage.CLOSED_WON,
    "closedlost": ProgramStage.CLOSED_LOST,
}
# Steps after the sale that a sales pipeline has no stage for: a date property on the deal
# (set by finance or customer success, or a CRM workflow) says when the deal reached them.
DEFAULT_MILESTONES: dict[ProgramStage, str] = {
    ProgramStage.ONBOARDING: "onboarding_started_date",
    ProgramStage.FIRST_PAYMENT: "first_payment_date",
}
MILESTONE_PREFIX = "property:"
"""Stage history names a milestone entry ``property:<deal property>`` (no CRM stage id)."""


def rank(stage: ProgramStage) -> int:
    """Position in the forward order; closed_lost ranks below every open stage."""
    return _RANK.get(stage, -1)


def reached(current: ProgramStage, milestone: ProgramStage) -> bool:
    """True when a deal at ``current`` has reached (or passed) ``milestone``."""
    if milestone is ProgramStage.CLOSED_LOST:
        return current is ProgramStage.CLOSED_LOST
    return current is not ProgramStage.CLOSED_LOST and rank(current) >= rank(milestone)


def map_stage(stage_map: Mapping[str, ProgramStage], crm_stage_id: str) -> ProgramStage | None:
    """The program stage for a CRM stage id, or None when the id is not mapped."""
    return stage_map.get(crm_stage_id)


def furthest(stages: Iterable[ProgramStage]) -> ProgramStage | None:
    """The furthest stage in the forward order among ``stages`` (closed lost ranks lowest)."""
    ordered = sorted(stages, key=rank)
    return ordered[-1] if ordered else None
