"""The monthly recognition post read from the database and enqueued in the outbox: the last
complete month only, once per channel and month however often the weekly flow runs, and
nothing for a month with nobody to thank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Account, Ask, Deal, Moment, OutboxMessage, Person, Referral
from domain.program import load_preset
from domain.signals import SignalKind
from domain.statuses import AskStatus, Eligibility, ReferralChannel, TeamRole
from tasks.recognition import post_recognition
from tests.scenario import World

SAAS = load_preset("saas")
NOV = datetime(2026, 11, 10, 9, tzinfo=UTC)
DEC = datetime(2026, 12, 3, 9, tzinfo=UTC)
FIRST_MONDAY_OF_DEC = datetime(2026, 12, 7, 8, tzinfo=UTC)
CHANNEL = "C0THANKS"

_n = count(1)


class Book:
    """Team members, champions, asks, referrals and deals straight into the tables."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory, self.world = factory, World(factory)

    def member(self, name: str, role: TeamRole = TeamRole.CSM) -> int:
        return self.world.csm(name=name, role=role)

    def champion(self, first: str, company: str, csm: int) -> tuple[int, int]:
        n = next(_n)
        with self.factory.begin() as session:
            account = Account(crm_id=f"rc{n}", name=company, owner_id=csm)
            session.add(account)
            session.flush()
            person = Person(
                account_id=account.id,
                first_name=first,
                last_name="Surname",
                email=f"champion{n}@client{n}.example",
            )
            session.add(person)
            session.flush()
            return account.id, person.id

    def ask(self, csm: int, account: int, person: int, at: datetime, intro: bool) -> None:
        n = next(_n)
        signal = self.world.signal(account, SignalKind.NPS, at, value=10)
        with self.factory.begin() as session:
            moment = Moment(
                account_id=account,
                signal_id=signal,
                trigger="nps",
                window_key=f"w{n}",
                detected_at=at,
            )
            session.add(moment)
            session.flush()
            session.add(
                Ask(
                    moment_id=moment.id,
                    account_id=account,
                    champion_id=person,
                    csm_id=csm,
                    status=AskStatus.INTRO_MADE if intro else AskStatus.ASKED,
                    week_key=f"{at.isocalendar().year}-W{at.isocalendar().week:02d}",
                    created_for=at,
                    due_at=at + timedelta(days=7),
                    prompted_at=at,
                )
            )

    def referral(
        self, person: int, at: datetime, eligibility: Eligibility = Eligibility.ELIGIBLE
    ) -> None:
        n = next(_n)
        with self.factory.begin() as session:
            session.add(
                Referral(
                    external_id=f"rec-{n}",
                    referrer_person_id=person,
                    referrer_type_key="client",
                    channel=ReferralChannel.LINK,
                    referred_company_name=f"Prospect {n}",
                    eligibility=eligibility,
                    submitted_at=at,
                )
            )

    def referral_deal(self, owner: int, amount: int, at: datetime) -> None:
        n = next(_n)
        with self.factory.begin() as session:
            session.add(
                Deal(
                    crm_id=f"rd{n}",
                    pipeline_id="default",
                    crm_stage_id="qualified",
                    amount=Decimal(amount),
                    owner_id=owner,
                    source_channel="client_referral",
                    crm_created_at=at,
                )
            )


def posts(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == "recognition")
                .order_by(OutboxMessage.id)
            )
        )


def test_the_month_is_posted_once_however_often_it_runs_and_the_next_month_posts_its_own(
    factory,
):
    book = Book(factory)
    casey = book.member("Casey Ng")
    rob = book.member("Rob Diaz", TeamRole.REP)
    acme, ana = book.champion("Ana", "Acme & Co", casey)
    _, bea = book.champion("Bea", "Beta <Labs>", casey)
    book.ask(casey, acme, ana, NOV, intro=True)
    book.referral(ana, NOV)
    book.referral(ana, NOV + timedelta(days=1))
    book.referral_deal(rob, 30000, NOV)
    book.referral(bea, DEC)  # December's: not in November's post

    first = post_recognition(factory, SAAS, CHANNEL, FIRST_MONDAY_OF_DEC)
    again = post_recognition(factory, SAAS, CHANNEL, FIRST_MONDAY_OF_DEC + timedelta(days=7))
    last_day = post_recognition(factory, SAAS, CHANNEL, datetime(2026, 12, 31, 23, tzinfo=UTC))

    assert (first.month, first.enqueued, first.note) == ("2026-11", 1, "2026-11: posted")
    assert (again.enqueued, again.note) == (0, "2026-11: already posted")
    assert last_day.enqueued == 0
    [november] = posts(factory)
    assert november.recipient == CHANNEL
    assert november.dedupe_key == "recognition:C0THANKS:2026-11"
    text = november.payload["text"]
    assert "thank you for November 2026" in text
    assert "\u2022 Ana (Acme &amp; Co): 2 referrals\n" in text
    assert "\u2022 Casey Ng: 1 intro from 1 ask\n" in text
    assert "\u2022 Rob Diaz: USD 30,000 of referral pipeline\n" in text
    assert "Bea" not in text and "person:" not in text and "team_member:" not in text
    assert "Surname" not in text  # a champion is thanked by first name and company
    assert november.payload["blocks"][0]["text"]["text"] == text

    january = post_recognition(factory, SAAS, CHANNEL, datetime(2027, 1, 4, 8, tzinfo=UTC))

    assert (january.month, january.enqueued) == ("2026-12", 1)
    _, december = posts(factory)
    assert december.dedupe_key == "recognition:C0THANKS:2026-12"
    assert "\u2022 Bea (Beta &lt;Labs&gt;): 1 referral\n" in december.payload["text"]
    assert "Ana" not in december.payload["text"]


def test_each_channel_gets_the_month_once(factory):
    book = Book(factory)
    casey = book.member("Casey Ng")
    _, ana = book.champion("Ana", "Acme", casey)
    book.referral(ana, NOV)

    assert post_recognition(factory, SAAS, "C0ONE", FIRST_MONDAY_OF_DEC).enqueued == 1
    assert post_recognition(factory, SAAS, "C0TWO", FIRST_MONDAY_OF_DEC).enqueued == 1
    assert sorted(p.recipient for p in posts(factory)) == ["C0ONE", "C0TWO"]


def test_a_month_with_no_referrals_and_no_asks_posts_nothing(factory):
    book = Book(factory)
    casey = book.member("Casey Ng")
    acme, ana = book.champion("Ana", "Acme", casey)
    october = datetime(2026, 10, 20, 9, tzinfo=UTC)
    book.ask(casey, acme, ana, october, intro=True)
    book.referral(ana, october)

    quiet = post_recognition(factory, SAAS, CHANNEL, FIRST_MONDAY_OF_DEC)

    assert (quiet.month, quiet.enqueued) == ("2026-11", 0)
    assert quiet.note == "2026-11: no referrals and no asks, nothing to post"
    assert posts(factory) == []


def test_a_month_of_refused_referrals_only_has_nobody_to_thank(factory):
    book = Book(factory)
    casey = book.member("Casey Ng")
    _, ana = book.champion("Ana", "Acme", casey)
    book.referral(ana, NOV, Eligibility.INELIGIBLE)
    book.referral(ana, NOV, Eligibility.DUPLICATE)

    refused = post_recognition(factory, SAAS, CHANNEL, FIRST_MONDAY_OF_DEC)

    assert refused.enqueued == 0
    assert refused.note == "2026-11: nobody on the leaderboards, nothing to post"
    assert posts(factory) == []
    # A later run still looks (nothing was enqueued, so nothing holds the month).
    assert post_recognition(factory, SAAS, CHANNEL, FIRST_MONDAY_OF_DEC).enqueued == 0
