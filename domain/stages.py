"""Program stages of a referred deal and the mapping from CRM pipeline stages.

The CRM stays the source of truth: a deal's CRM stage id is mapped to one of these program
stages through the program's ``stage_map``. Order matters for "progress" comparisons;
``closed_lost`` is terminal and sits outside the forward order.
"""

from __future__ import annotations

from collections.abc import Mapping
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

# The sandbox CRM's pipeline and the presets' default stage map: HubSpot's default sales
# pipeline ids where one exists, plus custom stages for the steps HubSpot has no id for.
DEFAULT_PIPELINE_ID = "default"
DEFAULT_STAGE_MAP: dict[str, ProgramStage] = {
    "referralintroduction": ProgramStage.INTRODUCTION,
    "leadcaptured": ProgramStage.LEAD_CAPTURED,
    "qualifiedtobuy": ProgramStage.SALES_ACCEPTED,
    "appointmentscheduled": ProgramStage.DISCOVERY,
    "presentationscheduled": ProgramStage.OPPORTUNITY,
    "contractsent": ProgramStage.PROPOSAL,
    "closedwon": ProgramStage.CLOSED_WON,
    "onboarding": ProgramStage.ONBOARDING,
    "firstpayment": ProgramStage.FIRST_PAYMENT,
    "closedlost": ProgramStage.CLOSED_LOST,
}


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
