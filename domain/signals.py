"""Signal kinds: the facts about a client relationship that moments are detected from."""

from __future__ import annotations

from enum import StrEnum


class SignalKind(StrEnum):
    NPS = "nps"  # value 0..10
    CSAT = "csat"  # value 1..5
    ONBOARDING_COMPLETED = "onboarding_completed"
    ROI_MILESTONE = "roi_milestone"  # text: the result, e.g. "cut month-end close from 9 to 4 days"
    RENEWAL_SIGNED = "renewal_signed"  # value: contract value, optional
    UPSELL_SIGNED = "upsell_signed"  # value: added value, optional
    FEEDBACK_POSITIVE = "feedback_positive"
    FEEDBACK_NEGATIVE = "feedback_negative"
    ESCALATION_OPENED = "escalation_opened"
    ESCALATION_CLOSED = "escalation_closed"
    CHURN_RISK_FLAGGED = "churn_risk_flagged"
    CHURN_RISK_CLEARED = "churn_risk_cleared"


class SignalSource(StrEnum):
    CRM = "crm"
    FILE = "file"
    CLI = "cli"
    SIMULATION = "simulation"


SCORED_KINDS: dict[SignalKind, tuple[int, int]] = {
    SignalKind.NPS: (0, 10),
    SignalKind.CSAT: (1, 5),
}
"""Kinds whose value is a survey score, with the inclusive range it must fall in."""
