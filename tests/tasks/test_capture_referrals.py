"""Capture, the one door every share path uses: what is stored, the ask it closes, the
referrer's acknowledgement (once, never to a suppressed address), and what an unknown code
leaves behind (nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core.settings import Settings
from db.models import Ask, OutboxMessage, Person, Referral, ReferralLink, Suppression
from domain.program import load_preset
from domain.referrals.intake import validate_intake
from domain.signals import SignalKind as K
from domain.statuses import AskStatus, Eligibility, ReferralChannel
from tasks.detect_moments import detect_moments
from tasks.referrals.capture import CaptureInput, capture_referrals
from tests.scenario import World

PROGRAM = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def settings(tmp_path) -> Settings:
    return Settings(REFERRALS_DATA_DIR=tmp_path, REFERRALS_SECRET_KEY="test-secret")


def intake(company="Acme", email="cfo@acme.io"):
    value, errors = validate_intake({"company": company, "email": email, "name": "Maria Cruz"})
    assert value is not None, errors
    return value


def champion_with_an_ask(factory) -> tuple[str, int, str]:
    """A champion whose happy moment became an ask: (their code, the ask, their email)."""
    w = World(factory)
    account = w.account(w.csm())
    person = w.person(account)
    w.signal(account, K.FEEDBACK_POSITIVE, NOW - timedelta(hours=3))
    detect_moments(factory, PROGRAM, NOW - timedelta(hours=2))
    with factory() as session:
        ask_id = session.scalars(select(Ask.id).where(Ask.champion_id == person)).one()
        email = session.get(Person, person).email
        code = session.scalars(select(ReferralLink.code).where(ReferralLink.person_id == person))
        return code.one(), ask_id, email


def acknowledgements(factory) -> list[tuple[str, str]]:
    with factory() as session:
        return list(
            session.execute(
                select(OutboxMessage.recipient, OutboxMessage.template).where(
                    OutboxMessage.template == "referral_received"
                )
            ).tuples()
        )


def test_a_link_intro_is_stored_closes_its_ask_and_is_acknowledged_once(factory, tmp_path):
    code, ask_id, referrer = champion_with_an_ask(factory)
    item = CaptureInput(
        ReferralChannel.QR,
        intake(),
        code=code.lower(),  # a code typed in lower case is the same code
        ask_id=ask_id,
        external_id="form:1",
        attribution={"src": "qr", "utm_campaign": "summit"},
    )
    [first] = capture_referrals(factory, PROGRAM, settings(tmp_path), [item], NOW)
    [again] = capture_referrals(factory, PROGRAM, settings(tmp_path), [item], NOW)

    assert first.created and not again.created and again.referral_id == first.referral_id
    with factory() as session:
        stored = session.get(Referral, first.referral_id)
        ask = session.get(Ask, ask_id)
    assert (stored.channel, stored.code, stored.eligibility) == ("qr", code, Eligibility.PENDING)
    assert stored.referrer_email == referrer and stored.referrer_type_key == "client"
    assert (stored.referred_first_name, stored.referred_last_name) == ("Maria", "Cruz")
    assert stored.attribution == {"src": "qr", "utm_campaign": "summit"}
    assert (ask.status, ask.outcome_at) == (AskStatus.INTRO_MADE, NOW)
    assert acknowledgements(factory) == [(referrer, "referral_received")]


def test_an_unknown_code_stores_nothing_and_says_so(factory, tmp_path):
    [result] = capture_referrals(
        factory,
        PROGRAM,
        settings(tmp_path),
        [CaptureInput(ReferralChannel.CODE, intake(), code="NOPE-NOPE")],
        NOW,
    )
    assert (result.referral_id, result.created, result.problem) == (
        None,
        False,
        "unknown referral code",
    )
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == 0
    assert acknowledgements(factory) == []


def test_a_suppressed_referrer_is_recorded_but_not_written_to(factory, tmp_path):
    code, _, referrer = champion_with_an_ask(factory)
    with factory.begin() as session:
        session.add(
            Suppression(email=referrer, reason="unsubscribe", source="link", created_at=NOW)
        )
    [result] = capture_referrals(
        factory,
        PROGRAM,
        settings(tmp_path),
        [CaptureInput(ReferralChannel.LINK, intake(), code=code)],
        NOW,
    )
    assert result.created
    assert acknowledgements(factory) == []


def test_a_batch_mixes_paths_and_keeps_each_result_in_place(factory, tmp_path):
    code, _, referrer = champion_with_an_ask(factory)
    results = capture_referrals(
        factory,
        PROGRAM,
        settings(tmp_path),
        [
            CaptureInput(ReferralChannel.LINK, intake("One"), code=code),
            CaptureInput(ReferralChannel.CODE, intake("Two"), code="ZZZZ-ZZZZ"),
            CaptureInput(ReferralChannel.SALES_ASSISTED, intake("Three"), referrer_email=referrer),
            CaptureInput(ReferralChannel.LINK, intake("Four"), code=code, referrer_type="nope"),
        ],
        NOW,
    )
    assert [r.created for r in results] == [True, False, True, False]
    assert [r.problem for r in results] == [
        None,
        "unknown referral code",
        None,
        "unknown referrer type 'nope'",
    ]
    with factory() as session:
        names = sorted(session.scalars(select(Referral.referred_company_name)))
    assert names == ["One", "Three"]
    assert len(acknowledgements(factory)) == 2
