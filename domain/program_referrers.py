"""Who may refer, and the eligibility and fraud rules each referrer type is judged by.

Clients, partners and employees need different rules (the seed's "each group needs different
rules"), so every rule below lives on a referrer type rather than on the program.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from domain.program_base import Key, LowercaseList, ProgramModel, Text, raise_problems
from domain.program_defaults import PERSONAL_EMAIL_DOMAINS

Relationship = Literal["employee", "vendor", "agency"]
RegulatedMode = Literal["allow_with_disclosure", "deny", "allow"]


class Velocity(ProgramModel):
    """Referral-count anomaly limits per referrer; above them a referral is held as suspect."""

    max_per_day: int = Field(3, ge=1)
    max_per_30_days: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _day_within_month(self) -> Velocity:
        if self.max_per_day > self.max_per_30_days:
            raise_problems([("max_per_day", "must be <= max_per_30_days")])
        return self


class Regulated(ProgramModel):
    """Referred companies in these industries need legal's rule: allow, deny, or disclose."""

    industries: LowercaseList = ()
    mode: RegulatedMode = "allow"
    disclosure: str | None = None

    @model_validator(mode="after")
    def _disclosure_when_needed(self) -> Regulated:
        if self.mode == "allow_with_disclosure" and not (self.disclosure or "").strip():
            raise_problems([("disclosure", "is required when mode is allow_with_disclosure")])
        return self


class Eligibility(ProgramModel):
    """The checks a referral from this referrer type must pass; each decision stores its reason.

    Defaults are the strict choice: no self-referral, no pipeline or customers already known,
    no insiders, no free-mail referrers.
    """

    allow_self_referral: bool = False
    duplicate_company: Literal["first_wins"] = "first_wins"
    allow_existing_pipeline: bool = False
    allow_existing_customer: bool = False
    # A company the CRM already has as customer or in open pipeline, when not allowed above:
    # ineligible, or kept as influence only (recorded and reported, never rewarded, no deal).
    known_company: Literal["ineligible", "influence_only"] = "influence_only"
    excluded_domains: LowercaseList = ()  # referred companies never eligible (competitors...)
    excluded_relationships: tuple[Relationship, ...] = ("employee", "vendor", "agency")
    vendor_domains: LowercaseList = ()  # a referrer from these is a vendor
    agency_domains: LowercaseList = ()  # ... an agency (employees: company_domains, the team)
    # Personal mailboxes cannot be tied to a company: such referrals go to review.
    block_personal_email_domains: bool = True
    personal_email_domains: LowercaseList = PERSONAL_EMAIL_DOMAINS
    velocity: Velocity = Velocity()
    regulated: Regulated = Regulated()


class ReferrerType(ProgramModel):
    """A group of referrers (client, partner, employee) with its own eligibility rules."""

    key: Key
    label: Text
    eligibility: Eligibility = Eligibility()
