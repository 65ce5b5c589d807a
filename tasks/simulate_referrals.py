"""The demo's referrers at work: champions submit intros through the landing page's code path
(the function the HTTP route calls), reps import a file of intros and tag a deal with a code.
Demo only; seeded, so every run tells the same story."""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import transaction
from db.models import (
    Account,
    Ask,
    Deal,
    Person,
    Referral,
    ReferralLink,
    SandboxDeal,
    TeamMember,
)
from domain.program import Program
from domain.referrals.intake import REFERRAL_COLUMNS, validate_intake
from domain.statuses import ReferralChannel
from simulation.referrals import intro_for
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.referrals.rows import import_referrals
from tasks.signal_files import read_rows
from tasks.slack_actions import IntroForm, actor_for, log_intro


def _known(session: Session) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    referred = session.execute(
        select(Referral.referred_company_name, Referral.referred_domain)
        .where(Referral.referred_domain.is_not(None))
        .distinct()
        .order_by(Referral.referred_domain, Referral.referred_company_name)
        .limit(200)
    ).all()
    in_pipeline = session.execute(
        select(Account.name, Account.domain)
        .join(Deal, Deal.account_id == Account.id)
        .where(
            Deal.closed_at.is_(None), Account.lifecycle != "customer", Account.domain.is_not(None)
        )
        .distinct()
        .order_by(Account.domain, Account.name)
        .limit(200)
    ).all()
    return [tuple(r) for r in referred], [tuple(r) for r in in_pipeline]  # type: ignore[misc]


def champions_submit(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    ask_ids: Sequence[int],
    at: datetime,
    seed: int,
) -> Counter[str]:
    """Each ask the CSM turned into an intro: the champion fills in the landing page, or
    (every third, when the CSM is on Slack) the CSM logs the email intro with the digest's
    "Intro made" form, through the handler the form calls."""
    if not ask_ids:
        return Counter()
    rng = random.Random(f"intros:{seed}:{at.date().isoformat()}")
    with factory() as session:
        rows = session.execute(
            select(Ask.id, ReferralLink.code, Account.domain, TeamMember.slack_user_id)
            .join(ReferralLink, ReferralLink.id == Ask.referral_link_id)
            .join(Account, Account.id == Ask.account_id)
            .join(TeamMember, TeamMember.id == Ask.csm_id)
            .where(Ask.id.in_(list(ask_ids)))
            .order_by(Ask.id)
        ).all()
        referred, in_pipeline = _known(session)
    inputs, cases, logged = [], Counter(), Counter()
    for ask_id, code, domain, slack_user_id in rows:
        intro = intro_for(rng, domain, referred, in_pipeline)
        intake, _ = validate_intake(intro.fields)
        if intake is None:
            continue
        if slack_user_id and ask_id % 3 == 0:
            actor = actor_for(factory, slack_user_id, None)
            form = IntroForm(
                company=intake.company,
                domain=intake.domain or "",
                contact_name=intake.contact_name or "",
                contact_email=intake.contact_email or "",
                note=intake.note or "",
                ask_id=ask_id,
            )
            log_intro(factory, program, settings, actor, form, at)
            logged[intro.case] += 1
            continue
        cases[intro.case] += 1
        inputs.append(
            CaptureInput(
                ReferralChannel.LINK,
                intake,
                code=code,
                ask_id=ask_id,
                attribution={"utm_source": "demo"},
            )
        )
    capture_referrals(factory, program, settings, inputs, at)
    return Counter(
        {f"link intros ({case})": count for case, count in cases.items()}
        | {f"Slack intros ({case})": count for case, count in logged.items()}
    )


PARTNERS = ("alex.moreau@northstar-advisory.example", "sam.okafor@brightpath-partners.example")


def reps_import(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    folder: Path,
    at: datetime,
    seed: int,
) -> int:
    """A rep's weekly file of intros clients made on calls (sales-assisted)."""
    rng = random.Random(f"reps:{seed}:{at.date().isoformat()}")
    with factory() as session:
        champions = session.execute(
            select(Person.email, Account.domain)
            .join(ReferralLink, ReferralLink.person_id == Person.id)
            .join(Account, Account.id == Person.account_id)
            .order_by(Person.id)
        ).all()
        referred, in_pipeline = _known(session)
    if not champions:
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rep-intros-{at.date().isoformat()}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=REFERRAL_COLUMNS)
        writer.writeheader()
        partner = random.Random(f"partner:{seed}:{at.date().isoformat()}")
        for row in range(2):
            email, domain = rng.choice(champions)
            fields = intro_for(rng, domain, referred, in_pipeline).fields
            # Some weeks the second intro came from a consulting partner (commission rules).
            by_partner = row == 1 and partner.random() < 0.6
            writer.writerow(
                {
                    "referrer_type": "partner" if by_partner else "",
                    "referrer_email": partner.choice(PARTNERS) if by_partner else email,
                    "company": fields["company"],
                    "domain": fields["domain"],
                    "contact_email": fields["email"],
                    "contact_name": fields["name"],
                    "role": fields["role"],
                    "channel": "sales_assisted",
                }
            )
    return import_referrals(factory, program, settings, read_rows(path), at).new


def rep_tags_a_deal(factory: sessionmaker[Session], at: datetime, seed: int) -> int:
    """A rep puts a client's referral code on an open deal that came in another way."""
    rng = random.Random(f"tag:{seed}:{at.date().isoformat()}")
    with transaction(factory) as session:
        deals = session.scalars(
            select(SandboxDeal.id)
            .where(
                SandboxDeal.source_channel == "inbound",
                SandboxDeal.closed_at.is_(None),
                SandboxDeal.pipeline_id == "default",
            )
            .order_by(SandboxDeal.id)
            .limit(50)
        ).all()
        codes = session.scalars(select(ReferralLink.code).order_by(ReferralLink.id)).all()
        if not deals or not codes:
            return 0
        deal_id, code = rng.choice(list(deals)), rng.choice(list(codes))
        deal = session.get(SandboxDeal, deal_id)
        if deal is None or "referral_code" in deal.properties:
            return 0
        deal.properties = {**deal.properties, "referral_code": code}
        deal.updated_at = at
    return 1


def referral_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Referral.eligibility, func.count()).group_by(Referral.eligibility)
    ).all()
    return {str(status): count for status, count in rows}
