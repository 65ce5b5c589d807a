"""Who the demo's champions and reps refer, seeded: mostly new prospects, and every case the
rules are there for (a self-referral, a company already referred, one already in pipeline, a
personal mailbox). Pure: returns the form fields a person would type."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from simulation import names as n

# Shares of the cases a submission falls into (the rest are new prospects).
SELF_REFERRAL = 0.08
DUPLICATE = 0.10
KNOWN_PIPELINE = 0.08
PERSONAL_MAILBOX = 0.07
PROSPECT_SUFFIXES = ("Labs", "Systems", "Analytics", "Partners", "Logistics", "Health", "Works")


@dataclass(frozen=True)
class Intro:
    fields: dict[str, str]  # name, email, company, domain, role, note: the form's fields
    case: str  # new | self | duplicate | known | personal


def intro_for(
    rng: random.Random,
    champion_domain: str | None,
    referred: Sequence[tuple[str, str]],
    in_pipeline: Sequence[tuple[str, str]],
) -> Intro:
    """One intro a champion makes. ``referred``: (company, domain) already referred;
    ``in_pipeline``: (company, domain) the CRM has an open deal with."""
    first, last = rng.choice(n.FIRST_NAMES), rng.choice(n.LAST_NAMES)
    person = f"{_ascii(first)}.{_ascii(last)}".lower()
    roll = rng.random()
    case = "new"
    if roll < SELF_REFERRAL and champion_domain:
        company, domain = "Our sister team", champion_domain
        case = "self"
    elif roll < SELF_REFERRAL + DUPLICATE and referred:
        company, domain = rng.choice(list(referred))
        domain = f"www.{domain.upper()}"  # the same company, typed another way
        case = "duplicate"
    elif roll < SELF_REFERRAL + DUPLICATE + KNOWN_PIPELINE and in_pipeline:
        company, domain = rng.choice(list(in_pipeline))
        case = "known"
    else:
        stem = rng.choice(n.LAST_NAMES)
        company = f"{stem} {rng.choice(PROSPECT_SUFFIXES)}"
        domain = f"{_ascii(stem).lower()}-{rng.randrange(100, 999)}.example"
    email = f"{person}@{domain.removeprefix('www.').lower()}"
    if case == "new" and roll > 1 - PERSONAL_MAILBOX:
        email, domain, case = f"{person}{rng.randrange(10, 99)}@gmail.com", "", "personal"
    return Intro(
        {
            "name": f"{first} {last}",
            "email": email,
            "company": company,
            "domain": domain,
            "role": rng.choice(("CFO", "VP Finance", "Head of Operations", "Controller")),
            "note": "Met at a conference; keen to talk about month-end close.",
        },
        case,
    )


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum() and c.isascii())
