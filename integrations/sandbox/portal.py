"""The sandbox portal's deal pipelines: HubSpot's default sales pipeline, as a real portal has
it, and a renewals pipeline with numeric ids (as HubSpot gives custom pipelines), whose deals
the program keeps without mapping them."""

from __future__ import annotations

from domain.stages import DEFAULT_PIPELINE_ID
from integrations.ports import CrmPipeline, CrmStage

RENEWALS_PIPELINE_ID = "11450001"
RENEWAL_DUE, RENEWED, NOT_RENEWED = "11450002", "11450003", "11450004"

SANDBOX_PIPELINES: tuple[CrmPipeline, ...] = (
    CrmPipeline(
        DEFAULT_PIPELINE_ID,
        "Sales Pipeline",
        0,
        (
            CrmStage("appointmentscheduled", "Appointment Scheduled", 0),
            CrmStage("qualifiedtobuy", "Qualified To Buy", 1),
            CrmStage("presentationscheduled", "Presentation Scheduled", 2),
            CrmStage("decisionmakerboughtin", "Decision Maker Bought-In", 3),
            CrmStage("contractsent", "Contract Sent", 4),
            CrmStage("closedwon", "Closed Won", 5, closed=True, won=True),
            CrmStage("closedlost", "Closed Lost", 6, closed=True),
        ),
    ),
    CrmPipeline(
        RENEWALS_PIPELINE_ID,
        "Renewals",
        1,
        (
            CrmStage(RENEWAL_DUE, "Renewal due", 0),
            CrmStage(RENEWED, "Renewed", 1, closed=True, won=True),
            CrmStage(NOT_RENEWED, "Not renewed", 2, closed=True),
        ),
    ),
)
