"""The eligibility and fraud rules one referral is judged by. Pure: no database, no clock.

``decide`` runs every rule of the referrer type, lists every reason that applies and takes
the strongest outcome: ineligible > influence only > review > eligible. Reasons are stable
snake_case codes (stored on the referral), strongest first, in this order:

Hard refusals, ineligible:

- ``self_referral``: the referrer referred their own email address (``+tags`` ignored) or
  their own person record;
- ``self_referral_domain``: the referred company's registrable domain is the referrer's
  email domain, when that is a company mailbox (a shared gmail.com says nothing);
- ``own_company``: ... it is the domain of the referrer's own account in the CRM: the same
  "referred their own company" seen from the CRM, so ``allow_self_referral`` lifts it too;
- ``program_company``: ... it is one of the program's ``company_domains`` (always refused);
- ``excluded_domain``: ... it is on the type's ``excluded_domains``;
- ``excluded_relationship_employee``, ``excluded_relationship_vendor``,
  ``excluded_relationship_agency``: the referrer is a team member or mails from
  ``company_domains``, or their email or account domain is on ``vendor_domains`` /
  ``agency_domains``, and the type excludes that relationship;
- ``regulated_denied``: the referred industry is regulated and the mode is ``deny``.

Companies the synced CRM knows, unless the type allows them (``known_company`` says whether
they become ``influence_only`` or ineligible): ``existing_customer``, ``existing_pipeline``.

Review, a person decides (never a silent rejection):

- ``personal_email_referrer``, ``personal_email_referred``: a free mailbox, when the type
  blocks personal email domains;
- ``no_company_domain``: neither the referred domain nor the referred email names a company,
  so duplicates, customers and exclusions cannot be checked (whatever the personal setting);
- ``velocity_day``, ``velocity_30_days``: the referrer's earlier referrals reach a limit.

Information, the outcome is unchanged: ``regulated_disclosure`` (mode
``allow_with_disclosure``): ``Decision.disclosure`` holds the text to store and show.

Duplicates are not decided here: the caller claims ``Decision.claim_domain`` in the database
once the outcome is eligible (or a reviewer approves), and the first claim wins. It is set
whenever the referred company has a domain, whatever the outcome, and never to a free
mailbox's domain (claimed, gmail.com would make every later gmail referral a duplicate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from domain.program_referrers import Eligibility as Rules
from domain.referrals.domains import company_domain, registrable_domain, registrable_set
from domain.statuses import Eligibility
from domain.text import normalise_email


class Reason(StrEnum):
    SELF_REFERRAL = "self_referral"
    SELF_REFERRAL_DOMAIN = "self_referral_domain"
    OWN_COMPANY = "own_company"
    PROGRAM_COMPANY = "program_company"
    EXCLUDED_DOMAIN = "excluded_domain"
    EXCLUDED_RELATIONSHIP_EMPLOYEE = "excluded_relationship_employee"
    EXCLUDED_RELATIONSHIP_VENDOR = "excluded_relationship_vendor"
    EXCLUDED_RELATIONSHIP_AGENCY = "excluded_relationship_agency"
    REGULATED_DENIED = "regulated_denied"
    EXISTING_CUSTOMER = "existing_customer"
    EXISTING_PIPELINE = "existing_pipeline"
    PERSONAL_EMAIL_REFERRER = "personal_email_referrer"
    PERSONAL_EMAIL_REFERRED = "personal_email_referred"
    NO_COMPANY_DOMAIN = "no_company_domain"
    VELOCITY_DAY = "velocity_day"
    VELOCITY_30_DAYS = "velocity_30_days"
    REGULATED_DISCLOSURE = "regulated_disclosure"


# Fixed phrases, never a value from the referral: the sentence is shown and logged.
_PHRASES: dict[Reason, str] = {
    Reason.SELF_REFERRAL: "the referrer referred themselves",
    Reason.SELF_REFERRAL_DOMAIN: "the referred company uses the referrer's own email domain",
    Reason.OWN_COMPANY: "the referred company is the referrer's own company",
    Reason.PROGRAM_COMPANY: "the referred company is our own company",
    Reason.EXCLUDED_DOMAIN: "the referred company's domain is excluded by the program",
    Reason.EXCLUDED_RELATIONSHIP_EMPLOYEE: "referrals from employees are excluded",
    Reason.EXCLUDED_RELATIONSHIP_VENDOR: "referrals from vendors are excluded",
    Reason.EXCLUDED_RELATIONSHIP_AGENCY: "referrals from agencies are excluded",
    Reason.REGULATED_DENIED: "the referred company is in an industry the program does not accept",
    Reason.EXISTING_CUSTOMER: "the referred company is already a customer",
    Reason.EXISTING_PIPELINE: "the referred company already has an open deal",
    Reason.PERSONAL_EMAIL_REFERRER: "the referrer used a personal email address",
    Reason.PERSONAL_EMAIL_REFERRED: "the referred contact has a personal email address",
    Reason.NO_COMPANY_DOMAIN: "no company domain is known for the referred company",
    Reason.VELOCITY_DAY: "the referrer reached the daily referral limit",
    Reason.VELOCITY_30_DAYS: "the referrer reached the 30-day referral limit",
    Reason.REGULATED_DISCLOSURE: "the referred company is in a regulated industry, so the "
    "disclosure applies",
}

_STRENGTH = (
    Eligibility.INELIGIBLE,
    Eligibility.INFLUENCE_ONLY,
    Eligibility.REVIEW,
    Eligibility.ELIGIBLE,
)
_LABELS = {
    Eligibility.INELIGIBLE: "Ineligible",
    Eligibility.INFLUENCE_ONLY: "Influence only",
    Eligibility.REVIEW: "Needs review",
    Eligibility.ELIGIBLE: "Eligible",
}
_RELATIONSHIPS = {
    "employee": Reason.EXCLUDED_RELATIONSHIP_EMPLOYEE,
    "vendor": Reason.EXCLUDED_RELATIONSHIP_VENDOR,
    "agency": Reason.EXCLUDED_RELATIONSHIP_AGENCY,
}

Finding = tuple[Reason, Eligibility]
_Predicate = Callable[[str | None], bool]


@dataclass(frozen=True)
class ReferralFacts:
    """What is known about one referral and its referrer when it is decided."""

    referrer_type: str
    channel: str
    referrer_email: str | None
    referrer_person_id: int | None
    referrer_is_team_member: bool
    referrer_company_domain: str | None  # the domain of the referrer's own CRM account
    referred_email: str | None
    referred_person_id: int | None  # the person the referred email already is, if known
    referred_domain: str | None
    referred_company_name: str
    referred_industry: str | None


@dataclass(frozen=True)
class KnownCompany:
    """What the synced CRM knows of the referred company (nothing: both False)."""

    is_customer: bool = False
    has_open_pipeline: bool = False


@dataclass(frozen=True)
class History:
    """This referrer's referrals before this one, counted by the caller."""

    referrals_last_day: int = 0
    referrals_last_30_days: int = 0


@dataclass(frozen=True)
class Decision:
    """What the rules decided, and why, as stored on the referral."""

    outcome: Eligibility
    reasons: tuple[Reason, ...]  # strongest first; empty when every rule passed
    text: str  # one sentence for a person, with no email address or other personal data
    disclosure: str | None  # the regulated disclosure to store and show, if any
    claim_domain: str | None  # registrable domain to claim against duplicates, if any


@dataclass(frozen=True)
class _Domains:
    """The registrable domains the rules compare, worked out once per referral."""

    referred: str | None  # the referred company's; never a free mailbox's
    referrer_mailbox: str | None  # the referrer's email domain, when a company mailbox
    referrer_account: str | None
    referrer_personal: bool
    referred_personal: bool
    program: frozenset[str]


def decide(
    facts: ReferralFacts,
    rules: Rules,
    program_domains: tuple[str, ...],
    known: KnownCompany,
    history: History,
) -> Decision:
    """Judge one referral by its referrer type's rules (see the module docstring)."""
    domains = _domains(facts, rules, program_domains)
    findings = sorted(
        [
            *_self_referral(facts, rules, domains),
            *_company_lists(rules, domains),
            *_relationships(facts, rules, domains),
            *_regulated(facts, rules),
            *_known_company(rules, known),
            *_needs_review(rules, domains),
            *_velocity(rules, history),
        ],
        key=lambda finding: _STRENGTH.index(finding[1]),  # stable: rule order within a rank
    )
    outcome = findings[0][1] if findings else Eligibility.ELIGIBLE
    reasons = tuple(dict.fromkeys(reason for reason, _ in findings))
    disclosure = rules.regulated.disclosure if Reason.REGULATED_DISCLOSURE in reasons else None
    return Decision(outcome, reasons, _sentence(outcome, reasons), disclosure, domains.referred)


def _domains(facts: ReferralFacts, rules: Rules, program_domains: tuple[str, ...]) -> _Domains:
    personal = _personal_domains(tuple(rules.personal_email_domains))

    def is_personal(value: str | None) -> bool:
        return bool({company_domain(value), registrable_domain(value)} & personal)

    referrer_personal = is_personal(facts.referrer_email)
    return _Domains(
        referred=_company_of((facts.referred_domain, facts.referred_email), is_personal),
        referrer_mailbox=None if referrer_personal else registrable_domain(facts.referrer_email),
        referrer_account=registrable_domain(facts.referrer_company_domain),
        referrer_personal=referrer_personal,
        referred_personal=is_personal(facts.referred_email),
        program=registrable_set(program_domains),
    )


@lru_cache(maxsize=32)
def _personal_domains(listed: tuple[str, ...]) -> frozenset[str]:
    """The free-mailbox list as registrable domains: the same for every referral of a type."""
    return frozenset(filter(None, map(company_domain, listed)))


def _company_of(values: Iterable[str | None], is_personal: _Predicate) -> str | None:
    """The first value naming a company; a free mailbox's domain names nobody's company."""
    for value in values:
        if value and not is_personal(value) and (registrable := registrable_domain(value)):
            return registrable
    return None


def _same_mailbox(first: str | None, second: str | None) -> bool:
    """``Jane+ref@Acme.io`` is ``jane@acme.io``: a sub-address is the same person's mailbox."""
    mailboxes = []
    for email in (first, second):
        address = normalise_email(email)
        if address is None:
            return False
        local, domain = address.rsplit("@", 1)
        mailboxes.append(f"{local.split('+', 1)[0]}@{domain}")
    return mailboxes[0] == mailboxes[1]


def _self_referral(facts: ReferralFacts, rules: Rules, domains: _Domains) -> Iterator[Finding]:
    if rules.allow_self_referral:
        return
    same_person = facts.referrer_person_id is not None and (
        facts.referrer_person_id == facts.referred_person_id
    )
    if same_person or _same_mailbox(facts.referrer_email, facts.referred_email):
        yield Reason.SELF_REFERRAL, Eligibility.INELIGIBLE
    if domains.referred and domains.referred == domains.referrer_mailbox:
        yield Reason.SELF_REFERRAL_DOMAIN, Eligibility.INELIGIBLE
    if domains.referred and domains.referred == domains.referrer_account:
        yield Reason.OWN_COMPANY, Eligibility.INELIGIBLE


def _company_lists(rules: Rules, domains: _Domains) -> Iterator[Finding]:
    if domains.referred is None:
        return
    if domains.referred in domains.program:
        yield Reason.PROGRAM_COMPANY, Eligibility.INELIGIBLE
    if domains.referred in registrable_set(rules.excluded_domains):
        yield Reason.EXCLUDED_DOMAIN, Eligibility.INELIGIBLE


def _relationships(facts: ReferralFacts, rules: Rules, domains: _Domains) -> Iterator[Finding]:
    referrer = {domains.referrer_mailbox, domains.referrer_account} - {None}
    found = {
        "employee": facts.referrer_is_team_member or bool(referrer & domains.program),
        "vendor": bool(referrer & registrable_set(rules.vendor_domains)),
        "agency": bool(referrer & registrable_set(rules.agency_domains)),
    }
    for relationship, reason in _RELATIONSHIPS.items():
        if found[relationship] and relationship in rules.excluded_relationships:
            yield reason, Eligibility.INELIGIBLE


def _regulated(facts: ReferralFacts, rules: Rules) -> Iterator[Finding]:
    regulated = rules.regulated
    industries = {_folded(industry) for industry in regulated.industries}
    industry = _folded(facts.referred_industry or "")
    if not industry or industry not in industries:
        return
    if regulated.mode == "deny":
        yield Reason.REGULATED_DENIED, Eligibility.INELIGIBLE
    elif regulated.mode == "allow_with_disclosure":
        yield Reason.REGULATED_DISCLOSURE, Eligibility.ELIGIBLE


def _known_company(rules: Rules, known: KnownCompany) -> Iterator[Finding]:
    outcome = Eligibility(rules.known_company)  # "ineligible" | "influence_only"
    if known.is_customer and not rules.allow_existing_customer:
        yield Reason.EXISTING_CUSTOMER, outcome
    if known.has_open_pipeline and not rules.allow_existing_pipeline:
        yield Reason.EXISTING_PIPELINE, outcome


def _needs_review(rules: Rules, domains: _Domains) -> Iterator[Finding]:
    if rules.block_personal_email_domains and domains.referrer_personal:
        yield Reason.PERSONAL_EMAIL_REFERRER, Eligibility.REVIEW
    if rules.block_personal_email_domains and domains.referred_personal:
        yield Reason.PERSONAL_EMAIL_REFERRED, Eligibility.REVIEW
    if domains.referred is None:
        yield Reason.NO_COMPANY_DOMAIN, Eligibility.REVIEW


def _velocity(rules: Rules, history: History) -> Iterator[Finding]:
    if history.referrals_last_day >= rules.velocity.max_per_day:
        yield Reason.VELOCITY_DAY, Eligibility.REVIEW
    if history.referrals_last_30_days >= rules.velocity.max_per_30_days:
        yield Reason.VELOCITY_30_DAYS, Eligibility.REVIEW


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _sentence(outcome: Eligibility, reasons: tuple[Reason, ...]) -> str:
    """``Ineligible: the referred company is the referrer's own company.``"""
    because = "; ".join(_PHRASES[reason] for reason in reasons) or "every rule passed"
    return f"{_LABELS[outcome]}: {because}."
