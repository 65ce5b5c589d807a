"""What the landing page behind a referrer's link shows: who referred (first name and company,
never their email) and the program's disclosure where its rules ask for one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from db.repositories import referrals as repo
from domain.program import Program
from domain.referral_codes import normalise_code


@dataclass(frozen=True)
class Landing:
    code: str
    referrer_first_name: str
    referrer_company: str | None
    disclosure: str | None
    program_name: str
    company_name: str  # whose page this is


def landing_for_code(factory: sessionmaker[Session], program: Program, code: str) -> Landing | None:
    """The page for a code, or None for any code that does not (or no longer) lead to a
    referrer: the caller shows one friendly page for all of those (no enumeration)."""
    normalised = normalise_code(code)
    if normalised is None:
        return None
    with factory() as session:
        referrer = repo.referrers_by_code(session, [normalised]).get(normalised)
    if referrer is None:
        return None
    try:
        rules = program.referrer_type(referrer.referrer_type).eligibility.regulated
    except KeyError:
        return None
    disclosure = rules.disclosure if rules.mode == "allow_with_disclosure" else None
    return Landing(
        code=normalised,
        referrer_first_name=referrer.person.first_name or "A client",
        referrer_company=referrer.account.name if referrer.account else None,
        disclosure=disclosure,
        program_name=program.name,
        company_name=program.company_name,
    )
