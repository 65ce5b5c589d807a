"""The words of an ask: call script, draft email, Slack digest. Pure rendering.

The script first reminds the value delivered with the account's own facts, then asks
specifically (role, company type, problem from the ideal-customer profile), then offers a
ready-to-paste text (seed: "remind the value, ask specifically, offer a text").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.program import Program
from domain.templates import ASK_VARIABLES, render

MOMENT_LABELS = {
    "onboarding_completed": "onboarding completed",
    "first_roi": "first ROI",
    "renewal_signed": "renewal signed",
    "upsell_signed": "upsell signed",
    "nps": "high NPS",
    "csat": "high CSAT",
    "positive_feedback": "positive feedback",
}


SCORE_SCALES = {"nps": 10, "csat": 5}  # each score is shown on its own scale


@dataclass(frozen=True)
class AskFacts:
    """What the renderer knows about one ask."""

    account_name: str
    segment: str | None
    champion_first_name: str
    champion_name: str
    champion_title: str | None
    csm_name: str
    trigger: str
    moment_on: date
    referral_link: str
    referral_code: str
    results: str | None = None  # latest ROI result text
    nps_score: Decimal | None = None
    nps_comment: str | None = None
    renewed_on: date | None = None  # the client signed a renewal on this day (never a future one)


@dataclass(frozen=True)
class AskContent:
    script: str
    subject: str
    body: str


def value_reminder(facts: AskFacts) -> str:
    """One sentence of what the client got, from their own facts."""
    when = facts.moment_on.strftime("%-d %B")
    if facts.trigger == "first_roi" and facts.results:
        return f"your team {facts.results}."
    if facts.trigger in {"nps", "csat"} and facts.nps_score is not None:
        scale = SCORE_SCALES[facts.trigger]
        return f"you rated us {facts.nps_score:.0f}/{scale} on {when}."
    if facts.trigger == "renewal_signed":  # the template thanks for the renewal itself
        return (
            f"your team {facts.results}."
            if facts.results
            else (f"{facts.account_name} has now been with us for another term.")
        )
    if facts.trigger == "upsell_signed":
        return f"you expanded your plan on {when}."
    if facts.trigger == "onboarding_completed":
        return f"your team finished onboarding on {when}."
    if facts.results:
        return f"your team {facts.results}."
    return f"{facts.account_name} has been getting value from us since {when}."


def ask_variables(facts: AskFacts, program: Program) -> dict[str, Any]:
    profile = program.ideal_customer.for_segment(facts.segment)
    variables: dict[str, Any] = {
        "account_name": facts.account_name,
        "champion_first_name": facts.champion_first_name or facts.champion_name,
        "champion_name": facts.champion_name,
        "champion_title": facts.champion_title or "",
        "csm_name": facts.csm_name,
        "csm_first_name": facts.csm_name.split(" ")[0],
        "value_reminder": value_reminder(facts),
        "results": facts.results or "",
        "nps_score": f"{facts.nps_score:.0f}" if facts.nps_score is not None else "",
        "nps_comment": facts.nps_comment or "",
        "renewal_date": facts.renewed_on.strftime("%-d %B %Y") if facts.renewed_on else "",
        "company_name": program.company_name,
        "target_role": profile.target_role,
        "company_type": profile.company_type,
        "problem": profile.problem,
        "referral_link": facts.referral_link,
        "referral_code": facts.referral_code,
        "moment": MOMENT_LABELS.get(facts.trigger, facts.trigger),
        "program_name": program.name,
    }
    return {k: v for k, v in variables.items() if k in ASK_VARIABLES}


def render_ask(facts: AskFacts, program: Program) -> AskContent:
    variables = ask_variables(facts, program)
    templates = program.templates
    return AskContent(
        script=render(templates.ask_script, variables).strip(),
        subject=render(templates.ask_email_subject, variables).strip(),
        body=render(templates.ask_email_body, variables).strip(),
    )
