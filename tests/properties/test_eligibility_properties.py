"""Properties of the eligibility rules over arbitrary referrals and referrer-type rules.

Whatever the facts hold (valid addresses, junk text, free mailboxes, look-alike domains):
``decide`` returns, its outcome is the strongest its reasons imply, its sentence names no
email address, the disclosure comes only with its reason, the claim is a registrable company
domain, and more evidence (known company, more referrals) never loosens a decision.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.program_referrers import Eligibility as Rules
from domain.referrals.domains import company_domain, registrable_domain
from domain.referrals.eligibility import (
    Decision,
    History,
    KnownCompany,
    Reason,
    ReferralFacts,
    decide,
)
from domain.statuses import Eligibility
from domain.text import normalise_email
from tests.properties.profiles import scaled

# Domains the rules may meet on both sides, so that matches (self, own company, lists) happen.
POOL = (
    "client.com",
    "eu.client.com",
    "prospect.io",
    "www.Prospect.io",
    "ourco.com",
    "rival.co.uk",
    "shop.rival.co.uk",
    "gmail.com",
    "hotmail.com",
    "co.uk",
    "bücher.de",
)
STRENGTH = (
    Eligibility.INELIGIBLE,
    Eligibility.INFLUENCE_ONLY,
    Eligibility.REVIEW,
    Eligibility.ELIGIBLE,
)
INFORMATION = {Reason.REGULATED_DISCLOSURE}

domains = st.one_of(st.sampled_from(POOL), st.text(max_size=30), st.none())
locals_ = st.sampled_from(("jane", "Jane+ref", "bob", "a.b"))
emails = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", locals_, st.sampled_from(POOL)),
    st.emails(),
    st.text(max_size=40),
    st.none(),
)
domain_lists = st.lists(st.one_of(st.sampled_from(POOL), st.text(max_size=20)), max_size=4)
industries = st.one_of(st.sampled_from(("Banking", " banking ", "Retail")), st.text(), st.none())

facts = st.builds(
    ReferralFacts,
    referrer_type=st.sampled_from(("client", "partner")),
    channel=st.sampled_from(("link", "code", "sales_assisted")),
    referrer_email=emails,
    referrer_person_id=st.one_of(st.none(), st.integers(1, 3)),
    referrer_is_team_member=st.booleans(),
    referrer_company_domain=domains,
    referred_email=emails,
    referred_person_id=st.one_of(st.none(), st.integers(1, 3)),
    referred_domain=domains,
    referred_company_name=st.text(max_size=30),
    referred_industry=industries,
)


@st.composite
def rules(draw: st.DrawFn) -> Rules:
    day = draw(st.integers(1, 20))
    mode = draw(st.sampled_from(("allow", "deny", "allow_with_disclosure")))
    data: dict[str, Any] = {
        "allow_self_referral": draw(st.booleans()),
        "allow_existing_pipeline": draw(st.booleans()),
        "allow_existing_customer": draw(st.booleans()),
        "known_company": draw(st.sampled_from(("ineligible", "influence_only"))),
        "excluded_domains": draw(domain_lists),
        "excluded_relationships": draw(
            st.lists(st.sampled_from(("employee", "vendor", "agency")), unique=True)
        ),
        "vendor_domains": draw(domain_lists),
        "agency_domains": draw(domain_lists),
        "block_personal_email_domains": draw(st.booleans()),
        "velocity": {"max_per_day": day, "max_per_30_days": day + draw(st.integers(0, 50))},
        "regulated": {
            "industries": draw(st.lists(st.sampled_from(("banking", "insurance")), max_size=2)),
            "mode": mode,
            "disclosure": "Rewards may apply." if mode == "allow_with_disclosure" else None,
        },
    }
    if draw(st.booleans()):
        data["personal_email_domains"] = draw(domain_lists)
    return Rules.model_validate(data)


known = st.builds(KnownCompany, st.booleans(), st.booleans())
history = st.builds(History, st.integers(-5, 100), st.integers(-5, 1000))
program_domains = st.lists(st.sampled_from(POOL), max_size=2).map(tuple)


def rank(decision: Decision) -> int:
    return STRENGTH.index(decision.outcome)


@settings(max_examples=scaled(200))
@given(facts, rules(), program_domains, known, history)
def test_decide_never_raises_and_explains_itself_without_personal_data(
    facts: ReferralFacts,
    rules: Rules,
    program_domains: tuple[str, ...],
    known: KnownCompany,
    history: History,
) -> None:
    decision = decide(facts, rules, program_domains, known, history)

    assert decision.outcome in STRENGTH
    assert len(set(decision.reasons)) == len(decision.reasons)
    assert all(isinstance(reason, Reason) for reason in decision.reasons)
    deciding = [reason for reason in decision.reasons if reason not in INFORMATION]
    assert (decision.outcome == Eligibility.ELIGIBLE) == (not deciding)

    text = decision.text
    assert text.isprintable() and text.endswith(".") and "\n" not in text
    assert "@" not in text
    for email in (facts.referrer_email, facts.referred_email):
        address = normalise_email(email)
        assert address is None or address not in text.lower()

    if Reason.REGULATED_DISCLOSURE in decision.reasons:
        assert decision.disclosure == rules.regulated.disclosure
    else:
        assert decision.disclosure is None

    if decision.claim_domain is not None:
        assert registrable_domain(decision.claim_domain) == decision.claim_domain
        personal = {company_domain(d) for d in rules.personal_email_domains}
        assert decision.claim_domain not in personal


@settings(max_examples=scaled(100))
@given(facts, rules(), program_domains, known, history, known, st.integers(0, 50))
def test_more_evidence_never_loosens_a_decision(
    facts: ReferralFacts,
    rules: Rules,
    program_domains: tuple[str, ...],
    known: KnownCompany,
    history: History,
    more_known: KnownCompany,
    more_referrals: int,
) -> None:
    before = decide(facts, rules, program_domains, known, history)
    wider = KnownCompany(
        known.is_customer or more_known.is_customer,
        known.has_open_pipeline or more_known.has_open_pipeline,
    )
    busier = History(
        history.referrals_last_day + more_referrals,
        history.referrals_last_30_days + more_referrals,
    )
    after = decide(facts, rules, program_domains, wider, busier)
    assert rank(after) <= rank(before)
    assert set(before.reasons) <= set(after.reasons)


@settings(max_examples=scaled(100))
@given(facts, rules(), program_domains, known, history, st.sampled_from(POOL))
def test_spelling_of_the_referred_domain_does_not_matter(
    facts: ReferralFacts,
    rules: Rules,
    program_domains: tuple[str, ...],
    known: KnownCompany,
    history: History,
    domain: str,
) -> None:
    plain = replace(facts, referred_domain=domain.lower())
    spelled = replace(facts, referred_domain=f"https://WWW.{domain.upper()}/about")
    assert decide(plain, rules, program_domains, known, history) == decide(
        spelled, rules, program_domains, known, history
    )
