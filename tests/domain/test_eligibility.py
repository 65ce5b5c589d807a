"""Eligibility and fraud rules: one case table row per rule, then their precedence.

The baseline referral passes every rule: Jane (a client at client.com, person 1) refers
Bob at prospect.io. Each case changes only what its rule looks at.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

import domain.referrals.eligibility as eligibility_module
from domain.program import PRESETS, load_preset
from domain.program_referrers import Eligibility as Rules
from domain.referrals.eligibility import (
    Decision,
    History,
    KnownCompany,
    Reason,
    ReferralFacts,
    decide,
)
from domain.statuses import Eligibility

PROGRAM_DOMAINS = ("ourco.com",)
BASE = ReferralFacts(
    referrer_type="client",
    channel="link",
    referrer_email="jane@client.com",
    referrer_person_id=1,
    referrer_is_team_member=False,
    referrer_company_domain="client.com",
    referred_email="bob@prospect.io",
    referred_person_id=None,
    referred_domain="prospect.io",
    referred_company_name="Prospect",
    referred_industry=None,
)
DISCLOSURE = "We may pay the referrer a reward for this introduction."

ELIGIBLE = Eligibility.ELIGIBLE
INELIGIBLE = Eligibility.INELIGIBLE
INFLUENCE = Eligibility.INFLUENCE_ONLY
REVIEW = Eligibility.REVIEW
R = Reason


@dataclass(frozen=True)
class Case:
    id: str
    outcome: Eligibility
    reasons: tuple[Reason, ...]
    facts: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    known: KnownCompany = field(default_factory=KnownCompany)
    history: History = field(default_factory=History)


def run(case: Case) -> Decision:
    return decide(
        replace(BASE, **case.facts),
        Rules.model_validate(case.rules),
        PROGRAM_DOMAINS,
        case.known,
        case.history,
    )


def regulated(mode: str) -> dict[str, Any]:
    return {"regulated": {"industries": ["Banking"], "mode": mode, "disclosure": DISCLOSURE}}


GMAIL = {"referrer_email": "jane@gmail.com", "referrer_company_domain": None}
CUSTOMER = KnownCompany(is_customer=True)
PIPELINE = KnownCompany(has_open_pipeline=True)

CASES = [
    Case("clean-referral", ELIGIBLE, ()),
    # --- self-referral ------------------------------------------------------------------
    Case("same-email", INELIGIBLE, (R.SELF_REFERRAL,), {"referred_email": "jane@client.com"}),
    Case(
        "same-email-other-case-and-plus-tag",
        INELIGIBLE,
        (R.SELF_REFERRAL,),
        {"referred_email": "Jane+ref@CLIENT.com"},
    ),
    Case("same-person", INELIGIBLE, (R.SELF_REFERRAL,), {"referred_person_id": 1}),
    Case("other-person", ELIGIBLE, (), {"referred_person_id": 2}),
    Case(
        "unknown-people-are-not-the-same",
        ELIGIBLE,
        (),
        {"referrer_person_id": None, "referred_person_id": None},
    ),
    Case(
        "same-email-domain",
        INELIGIBLE,
        (R.SELF_REFERRAL_DOMAIN,),
        {"referred_domain": "eu.client.com", "referrer_company_domain": None},
    ),
    Case(
        "same-email-domain-from-the-referred-email",
        INELIGIBLE,
        (R.SELF_REFERRAL_DOMAIN,),
        {
            "referred_domain": None,
            "referred_email": "bob@client.com",
            "referrer_company_domain": None,
        },
    ),
    Case(
        "own-company-from-the-crm-account",
        INELIGIBLE,
        (R.OWN_COMPANY,),
        {"referrer_email": "jane@client-mail.com", "referred_domain": "www.Client.com"},
    ),
    Case(
        "same-email-domain-and-own-company",
        INELIGIBLE,
        (R.SELF_REFERRAL_DOMAIN, R.OWN_COMPANY),
        {"referred_domain": "client.com"},
    ),
    Case(
        "everything-self-at-once",
        INELIGIBLE,
        (R.SELF_REFERRAL, R.SELF_REFERRAL_DOMAIN, R.OWN_COMPANY),
        {"referred_email": "jane@client.com", "referred_domain": None, "referred_person_id": 1},
    ),
    Case(
        "self-referral-allowed",
        ELIGIBLE,
        (),
        {"referred_email": "jane@client.com", "referred_domain": None, "referred_person_id": 1},
        {"allow_self_referral": True},
    ),
    Case(
        "shared-free-mailbox-domain-is-not-self-referral",
        REVIEW,
        (R.NO_COMPANY_DOMAIN,),
        {**GMAIL, "referred_email": "bob@gmail.com", "referred_domain": None},
        {"block_personal_email_domains": False},
    ),
    # --- our own company, excluded domains ----------------------------------------------
    Case("our-own-company", INELIGIBLE, (R.PROGRAM_COMPANY,), {"referred_domain": "app.ourco.com"}),
    Case(
        "our-own-company-even-when-self-referral-allowed",
        INELIGIBLE,
        (R.PROGRAM_COMPANY,),
        {"referred_domain": "ourco.com"},
        {"allow_self_referral": True},
    ),
    Case(
        "excluded-domain-subdomain",
        INELIGIBLE,
        (R.EXCLUDED_DOMAIN,),
        {"referred_domain": "eu.rival.com"},
        {"excluded_domains": ["rival.com"]},
    ),
    Case(
        "excluded-domain-written-with-www-and-case",
        INELIGIBLE,
        (R.EXCLUDED_DOMAIN,),
        {"referred_domain": "rival.com"},
        {"excluded_domains": ["WWW.Rival.com"]},
    ),
    Case(
        "excluded-domain-two-label-suffix",
        INELIGIBLE,
        (R.EXCLUDED_DOMAIN,),
        {"referred_domain": "shop.rival.co.uk"},
        {"excluded_domains": ["rival.co.uk"]},
    ),
    Case(
        "lookalike-of-an-excluded-domain",
        ELIGIBLE,
        (),
        {"referred_domain": "notrival.com"},
        {"excluded_domains": ["rival.com"]},
    ),
    # --- excluded relationships ---------------------------------------------------------
    Case(
        "team-member",
        INELIGIBLE,
        (R.EXCLUDED_RELATIONSHIP_EMPLOYEE,),
        {"referrer_is_team_member": True},
    ),
    Case(
        "employee-by-email-domain",
        INELIGIBLE,
        (R.EXCLUDED_RELATIONSHIP_EMPLOYEE,),
        {"referrer_email": "jane@eu.ourco.com", "referrer_company_domain": None},
    ),
    Case(
        "employee-allowed",
        ELIGIBLE,
        (),
        {"referrer_is_team_member": True, "referrer_email": "jane@ourco.com"},
        {"excluded_relationships": ["vendor", "agency"]},
    ),
    Case(
        "vendor-by-email-domain",
        INELIGIBLE,
        (R.EXCLUDED_RELATIONSHIP_VENDOR,),
        {"referrer_email": "jane@supplier.com"},
        {"vendor_domains": ["supplier.com"]},
    ),
    Case(
        "vendor-by-crm-account",
        INELIGIBLE,
        (R.EXCLUDED_RELATIONSHIP_VENDOR,),
        {"referrer_company_domain": "www.supplier.com"},
        {"vendor_domains": ["supplier.com"]},
    ),
    Case(
        "vendor-allowed",
        ELIGIBLE,
        (),
        {"referrer_email": "jane@supplier.com"},
        {"vendor_domains": ["supplier.com"], "excluded_relationships": ["employee"]},
    ),
    Case(
        "agency",
        INELIGIBLE,
        (R.EXCLUDED_RELATIONSHIP_AGENCY,),
        {"referrer_email": "jane@studio.agency.co.uk"},
        {"agency_domains": ["agency.co.uk"]},
    ),
    Case(
        "employee-and-agency",
        INELIGIBLE,
        (R.EXCLUDED_RELATIONSHIP_EMPLOYEE, R.EXCLUDED_RELATIONSHIP_AGENCY),
        {"referrer_is_team_member": True, "referrer_email": "jane@agency.co.uk"},
        {"agency_domains": ["agency.co.uk"]},
    ),
    # --- regulated industries -----------------------------------------------------------
    Case(
        "regulated-deny",
        INELIGIBLE,
        (R.REGULATED_DENIED,),
        {"referred_industry": "  BANKING "},
        regulated("deny"),
    ),
    Case(
        "regulated-with-disclosure",
        ELIGIBLE,
        (R.REGULATED_DISCLOSURE,),
        {"referred_industry": "banking"},
        regulated("allow_with_disclosure"),
    ),
    Case("regulated-allow", ELIGIBLE, (), {"referred_industry": "Banking"}, regulated("allow")),
    Case("unlisted-industry", ELIGIBLE, (), {"referred_industry": "Retail"}, regulated("deny")),
    Case("unknown-industry", ELIGIBLE, (), {"referred_industry": None}, regulated("deny")),
    # --- companies the CRM knows ---------------------------------------------------------
    Case("existing-customer", INFLUENCE, (R.EXISTING_CUSTOMER,), known=CUSTOMER),
    Case("existing-pipeline", INFLUENCE, (R.EXISTING_PIPELINE,), known=PIPELINE),
    Case(
        "existing-customer-ineligible-by-type",
        INELIGIBLE,
        (R.EXISTING_CUSTOMER,),
        rules={"known_company": "ineligible"},
        known=CUSTOMER,
    ),
    Case(
        "existing-pipeline-ineligible-by-type",
        INELIGIBLE,
        (R.EXISTING_PIPELINE,),
        rules={"known_company": "ineligible"},
        known=PIPELINE,
    ),
    Case(
        "customer-with-open-pipeline",
        INFLUENCE,
        (R.EXISTING_CUSTOMER, R.EXISTING_PIPELINE),
        known=KnownCompany(True, True),
    ),
    Case(
        "existing-customer-allowed",
        ELIGIBLE,
        (),
        rules={"allow_existing_customer": True},
        known=CUSTOMER,
    ),
    Case(
        "pipeline-allowed-but-not-customers",
        INFLUENCE,
        (R.EXISTING_CUSTOMER,),
        rules={"allow_existing_pipeline": True},
        known=KnownCompany(True, True),
    ),
    # --- personal email domains and missing domains --------------------------------------
    Case("referrer-on-free-mail", REVIEW, (R.PERSONAL_EMAIL_REFERRER,), GMAIL),
    Case(
        "referred-on-free-mail-with-a-company-domain",
        REVIEW,
        (R.PERSONAL_EMAIL_REFERRED,),
        {"referred_email": "bob@hotmail.com"},
    ),
    Case(
        "referred-on-free-mail-only",
        REVIEW,
        (R.PERSONAL_EMAIL_REFERRED, R.NO_COMPANY_DOMAIN),
        {"referred_email": "bob@hotmail.com", "referred_domain": None},
    ),
    Case(
        "free-mail-domain-given-as-company-domain",
        REVIEW,
        (R.PERSONAL_EMAIL_REFERRED, R.NO_COMPANY_DOMAIN),
        {"referred_email": "bob@gmail.com", "referred_domain": "gmail.com"},
    ),
    Case(
        "both-on-free-mail",
        REVIEW,
        (R.PERSONAL_EMAIL_REFERRER, R.PERSONAL_EMAIL_REFERRED, R.NO_COMPANY_DOMAIN),
        {**GMAIL, "referred_email": "bob@yahoo.com", "referred_domain": None},
    ),
    Case(
        "free-mail-allowed",
        ELIGIBLE,
        (),
        {**GMAIL, "referred_email": "bob@yahoo.com"},
        {"block_personal_email_domains": False},
    ),
    Case(
        "free-mail-list-of-the-program",
        REVIEW,
        (R.PERSONAL_EMAIL_REFERRER,),
        {"referrer_email": "jane@fastmail.fm"},
        {"personal_email_domains": ["fastmail.fm"]},
    ),
    Case(
        "gmail-not-on-a-custom-list",
        ELIGIBLE,
        (),
        {"referrer_email": "jane@gmail.com"},
        {"personal_email_domains": ["fastmail.fm"]},
    ),
    Case(
        "no-domain-no-email",
        REVIEW,
        (R.NO_COMPANY_DOMAIN,),
        {"referred_email": None, "referred_domain": None},
    ),
    Case(
        "domain-that-is-a-public-suffix",
        REVIEW,
        (R.NO_COMPANY_DOMAIN,),
        {"referred_email": None, "referred_domain": "co.uk"},
    ),
    Case(
        "company-domain-from-the-referred-email",
        ELIGIBLE,
        (),
        {"referred_domain": None, "referred_email": "bob@eu.prospect.io"},
    ),
    # --- velocity -----------------------------------------------------------------------
    Case("below-the-limits", ELIGIBLE, (), history=History(2, 9)),
    Case("daily-limit-reached", REVIEW, (R.VELOCITY_DAY,), history=History(3, 3)),
    Case("30-day-limit-reached", REVIEW, (R.VELOCITY_30_DAYS,), history=History(0, 10)),
    Case(
        "both-limits-reached",
        REVIEW,
        (R.VELOCITY_DAY, R.VELOCITY_30_DAYS),
        history=History(5, 12),
    ),
    Case(
        "limits-of-the-type",
        ELIGIBLE,
        (),
        rules={"velocity": {"max_per_day": 5, "max_per_30_days": 40}},
        history=History(4, 39),
    ),
    # --- precedence: every reason listed, strongest first, strongest outcome -------------
    Case(
        "refusal-beats-influence",
        INELIGIBLE,
        (R.SELF_REFERRAL, R.EXISTING_CUSTOMER),
        {"referred_person_id": 1},
        known=CUSTOMER,
    ),
    Case(
        "influence-beats-review",
        INFLUENCE,
        (R.EXISTING_PIPELINE, R.PERSONAL_EMAIL_REFERRER, R.VELOCITY_DAY),
        GMAIL,
        known=PIPELINE,
        history=History(3, 3),
    ),
    Case(
        "refusal-beats-review",
        INELIGIBLE,
        (R.EXCLUDED_DOMAIN, R.VELOCITY_30_DAYS),
        {"referred_domain": "rival.com"},
        {"excluded_domains": ["rival.com"]},
        history=History(0, 10),
    ),
    Case(
        "regulated-denied-and-customer",
        INELIGIBLE,
        (R.REGULATED_DENIED, R.EXISTING_CUSTOMER),
        {"referred_industry": "banking"},
        regulated("deny"),
        known=CUSTOMER,
    ),
    Case(
        "disclosure-kept-under-review",
        REVIEW,
        (R.PERSONAL_EMAIL_REFERRER, R.REGULATED_DISCLOSURE),
        {**GMAIL, "referred_industry": "banking"},
        regulated("allow_with_disclosure"),
    ),
    Case(
        "refusal-lists-every-rank",
        INELIGIBLE,
        (
            R.PROGRAM_COMPANY,
            R.EXCLUDED_RELATIONSHIP_EMPLOYEE,
            R.EXISTING_CUSTOMER,
            R.PERSONAL_EMAIL_REFERRED,
            R.VELOCITY_DAY,
            R.REGULATED_DISCLOSURE,
        ),
        {
            "referrer_is_team_member": True,
            "referred_email": "bob@gmail.com",
            "referred_domain": "ourco.com",
            "referred_industry": "Banking",
        },
        regulated("allow_with_disclosure"),
        known=CUSTOMER,
        history=History(3, 3),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_rules(case: Case) -> None:
    decision = run(case)
    assert (decision.outcome, decision.reasons) == (case.outcome, case.reasons)
    label = decision.text.split(":", 1)[0]
    assert (
        label
        == {
            ELIGIBLE: "Eligible",
            INELIGIBLE: "Ineligible",
            INFLUENCE: "Influence only",
            REVIEW: "Needs review",
        }[case.outcome]
    )
    assert decision.text.endswith(".") and "@" not in decision.text
    expect_disclosure = R.REGULATED_DISCLOSURE in case.reasons
    assert decision.disclosure == (DISCLOSURE if expect_disclosure else None)


def test_case_ids_are_unique_and_every_reason_has_a_case() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    assert {reason for case in CASES for reason in case.reasons} == set(Reason)


@pytest.mark.parametrize(
    ("facts", "text"),
    [
        pytest.param({}, "Eligible: every rule passed.", id="eligible"),
        pytest.param(
            {"referrer_email": "jane@client-mail.com", "referred_domain": "client.com"},
            "Ineligible: the referred company is the referrer's own company.",
            id="own-company",
        ),
        pytest.param(
            {"referred_person_id": 1, "referred_domain": "client.com"},
            "Ineligible: the referrer referred themselves; the referred company uses the "
            "referrer's own email domain; the referred company is the referrer's own company.",
            id="several-reasons",
        ),
    ],
)
def test_sentence(facts: dict[str, Any], text: str) -> None:
    assert run(Case("", ELIGIBLE, (), facts)).text == text


@pytest.mark.parametrize(
    ("facts", "claim"),
    [
        pytest.param({"referred_domain": "eu.app.acme.co.uk"}, "acme.co.uk", id="subdomain"),
        pytest.param({"referred_domain": "www.Acme.io"}, "acme.io", id="www-and-case"),
        pytest.param(
            {"referred_domain": None, "referred_email": "bob@shop.acme.io"},
            "acme.io",
            id="from-the-referred-email",
        ),
        pytest.param(
            {"referred_domain": "acme.io", "referred_email": "bob@acme-group.com"},
            "acme.io",
            id="the-given-domain-first",
        ),
        pytest.param(
            {"referred_domain": "gmail.com", "referred_email": "bob@gmail.com"},
            None,
            id="never-a-free-mailbox",
        ),
        pytest.param({"referred_domain": None, "referred_email": None}, None, id="none"),
        pytest.param({"referred_domain": "client.com"}, "client.com", id="kept-when-ineligible"),
    ],
)
def test_claim_domain(facts: dict[str, Any], claim: str | None) -> None:
    assert run(Case("", ELIGIBLE, (), facts)).claim_domain == claim


def test_every_reason_is_documented_and_has_a_phrase() -> None:
    doc = eligibility_module.__doc__ or ""
    for reason in Reason:
        assert f"``{reason.value}``" in doc, reason
        assert reason in eligibility_module._PHRASES


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_accept_a_clean_referral_and_refuse_an_employee(preset: str) -> None:
    program = load_preset(preset)
    employee = replace(BASE, referrer_is_team_member=True)
    for referrer_type in program.referrer_types:
        rules = referrer_type.eligibility
        clean = decide(BASE, rules, program.company_domains, KnownCompany(), History())
        assert clean.outcome == ELIGIBLE, (preset, referrer_type.key, clean.reasons)
        if "employee" in rules.excluded_relationships:
            refused = decide(employee, rules, program.company_domains, KnownCompany(), History())
            assert refused.outcome == INELIGIBLE
