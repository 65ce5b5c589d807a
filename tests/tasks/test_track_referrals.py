"""track-referrals on the database: decisions, duplicates, the CRM push (sandbox CRM), the
feedback loop, reviews, and nothing twice on a rerun."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.settings import Settings
from db.models import AuditEntry, OutboxMessage, Referral, SandboxDeal, Suppression
from domain.program import load_preset
from domain.referrals.intake import validate_intake
from domain.statuses import Eligibility, OutboxChannel, OutboxStatus, ReferralChannel
from integrations.deliverers import ChatDeliverer, CrmDeliverer, EmailDeliverer
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.email_folder import EmailFolderSender
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.referrals.review import decide_review
from tasks.referrals.track import track_referrals
from tasks.sync_crm import sync_crm
from tests.conftest import is_postgres
from tests.scenario import World

PROGRAM = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def env(factory, tmp_path):
    settings = Settings(REFERRALS_DATA_DIR=tmp_path, REFERRALS_SECRET_KEY="test-secret")
    crm = SandboxCrm(factory, now=lambda: NOW)  # the sandbox stamps its writes in test time
    deliverers = {
        OutboxChannel.CRM: CrmDeliverer(crm),
        OutboxChannel.EMAIL: EmailDeliverer(EmailFolderSender(tmp_path / "outbox", "r@x.example")),
        OutboxChannel.CHAT: ChatDeliverer(ChatLogNotifier(tmp_path / "chat.log")),
    }
    return settings, crm, deliverers


def champion(factory, email_domain="client.example"):
    w = World(factory)
    csm = w.csm(slack="U0CSM00001")
    account = w.account(csm, name="Client")
    with factory.begin() as session:
        from db.models import Account

        session.get(Account, account).domain = email_domain
    person = w.person(account)
    return w, w.link(person), person


def intro(company="Acme", domain="acme.io", email="cfo@acme.io", **kw):
    intake, errors = validate_intake({"company": company, "domain": domain, "email": email, **kw})
    assert intake is not None, errors
    return intake


def submit(factory, settings, code, intake, at=NOW, channel=ReferralChannel.LINK):
    [result] = capture_referrals(
        factory, PROGRAM, settings, [CaptureInput(channel, intake, code=code)], at
    )
    assert result.problem is None
    return result.referral_id


def referral(factory, referral_id) -> Referral:
    with factory() as session:
        return session.get(Referral, referral_id)


def test_the_same_company_twice_is_one_referral_one_duplicate_and_one_deal(factory, env):
    settings, _crm, deliverers = env
    _, first_code, _ = champion(factory)
    _, second_code, _ = champion(factory, "other-client.example")
    first = submit(factory, settings, first_code, intro(domain="acme.io"))
    second = submit(
        factory,
        settings,
        second_code,
        intro(domain="www.Acme.io", email="cto@acme.io"),
        NOW + timedelta(minutes=5),
    )

    report = track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=1))

    assert (referral(factory, first).eligibility, referral(factory, second).eligibility) == (
        Eligibility.ELIGIBLE,
        Eligibility.DUPLICATE,
    )
    assert referral(factory, second).duplicate_of_id == first
    assert "duplicate_company" in referral(factory, second).reason_codes
    with factory() as session:
        deals = session.scalars(select(SandboxDeal)).all()
    assert (
        len(deals) == 1
        and deals[0].properties["referral_program_id"] == referral(factory, first).external_id
    )
    assert report.counts["CRM pushes delivered"] == 1
    assert referral(factory, first).crm_deal_id == deals[0].id


def test_a_rerun_sends_nothing_twice_and_an_unsubscribed_referrer_gets_nothing_more(factory, env):
    settings, crm, deliverers = env
    _, code, _person = champion(factory)
    referral_id = submit(factory, settings, code, intro())
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=1))
    sync_crm(factory, crm, PROGRAM, settings=settings)
    again = track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=2))
    with factory() as session:
        pushes = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.operation == "push_referral")
        )
        deals = session.scalar(select(func.count()).select_from(SandboxDeal))
    assert (pushes, deals) == (1, 1) and again.counts["CRM pushes delivered"] == 0
    assert again.counts["emails delivered"] == 0

    # The deal moves on; the referrer unsubscribed meanwhile: no email, the outbox says why.
    deal_id = referral(factory, referral_id).crm_deal_id
    with factory.begin() as session:
        email = session.get(Referral, referral_id).referrer_email
        session.add(Suppression(email=email, reason="unsubscribe", source="link", created_at=NOW))
    move(factory, deal_id, "qualifiedtobuy", NOW + timedelta(days=3))
    sync_crm(factory, crm, PROGRAM, settings=settings)
    later = track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(days=3))
    assert later.counts["feedback emails enqueued"] == 0
    assert later.counts["feedback not sent (suppressed or no address)"] == 1
    assert later.counts["Slack notes enqueued"] == 1
    with factory() as session:
        held = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.subject_id == referral_id,
                OutboxMessage.template == "intro_contacted",
            )
        ).one()
    assert held.status is OutboxStatus.SUPPRESSED and "suppression list" in held.last_error

    # The step is handled: another intro moving later does not repeat this one to the CSM.
    other = submit(factory, settings, code, intro("Beta", "beta.io", "cto@beta.io"), at=NOW)
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(days=4))
    move(factory, referral(factory, other).crm_deal_id, "qualifiedtobuy", NOW + timedelta(days=5))
    sync_crm(factory, crm, PROGRAM, settings=settings)
    last = track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(days=5))
    assert last.counts["Slack notes enqueued"] == 1
    assert last.counts["feedback not sent (suppressed or no address)"] == 1  # Beta's, same referrer
    with factory() as session:
        notes = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.template == "referral_news")
            .order_by(OutboxMessage.id)
        ).all()
    assert ["Acme" in n["text"] for n in notes] == [True, False], notes


def move(factory, deal_id, stage_id, at):
    from db.models import SandboxDealStageEntry

    with factory.begin() as session:
        deal = session.get(SandboxDeal, deal_id)
        deal.stage_id, deal.stage_entered_at, deal.updated_at = stage_id, at, at
        if stage_id in ("closedwon", "closedlost"):
            deal.closed_at = at
        session.add(SandboxDealStageEntry(deal_id=deal_id, stage_id=stage_id, entered_at=at))


def test_the_referrer_hears_each_step_once_and_never_a_step_back(factory, env):
    settings, crm, deliverers = env
    _, code, _ = champion(factory)
    referral_id = submit(factory, settings, code, intro())
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=1))
    deal_id = referral(factory, referral_id).crm_deal_id
    with factory.begin() as session:
        session.get(SandboxDeal, deal_id).amount = Decimal("12345")  # confidential
    sent = []
    for day, stage in enumerate(
        [
            "qualifiedtobuy",
            "presentationscheduled",
            "qualifiedtobuy",
            "presentationscheduled",
            "closedwon",
        ],
        start=1,
    ):
        at = NOW + timedelta(days=day)
        move(factory, deal_id, stage, at)
        sync_crm(factory, crm, PROGRAM, settings=settings)
        report = track_referrals(factory, PROGRAM, settings, deliverers, at)
        sent.append(report.counts["feedback emails enqueued"])
    with factory() as session:
        emails = session.execute(
            select(OutboxMessage.template, OutboxMessage.payload)
            .where(
                OutboxMessage.subject_id == referral_id,
                OutboxMessage.channel == OutboxChannel.EMAIL,
            )
            .order_by(OutboxMessage.id)
        ).all()
        chat = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.template == "referral_news")
            .order_by(OutboxMessage.id)
        ).all()
    templates = [template for template, _ in emails]
    assert templates == [
        "referral_received",
        "intro_contacted",
        "intro_progressed",
        "thanks_closed_won",
    ]
    assert sent == [1, 1, 0, 0, 1]
    assert len(chat) == 3 and "Acme" in chat[-1]["text"] and "signed" in chat[-1]["text"]
    written = json.dumps([payload for _, payload in emails] + chat)
    assert "12345" not in written and "12,345" not in written
    # The won deal's thank-you names the reward it will earn (fixed: its amount may show).
    assert "account credit of USD 500.00" in emails[-1][1]["text"]


def test_one_note_per_csm_per_run_across_batches_and_none_lost_to_a_crash(
    factory, env, monkeypatch
):
    import db.repositories.referrals as referrals_repo
    import tasks.referrals.track as track

    settings, crm, deliverers = env
    _, code, _ = champion(factory)
    ids = [
        submit(factory, settings, code, intro(f"Co{n}", f"co{n}.io", f"cfo@co{n}.io"))
        for n in range(5)
    ]
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=1))
    for referral_id in ids:
        move(factory, referral(factory, referral_id).crm_deal_id, "qualifiedtobuy", NOW + DAY)
    sync_crm(factory, crm, PROGRAM, settings=settings)
    monkeypatch.setattr(track, "BATCH", 2)  # three batches of emails, still one note

    def crash(session):
        raise RuntimeError("killed between the emails and the note")

    monkeypatch.setattr(referrals_repo, "feedback_not_told", crash)
    with pytest.raises(RuntimeError):
        track.enqueue_feedback(factory, PROGRAM, settings, NOW + DAY, Counter())
    monkeypatch.undo()
    monkeypatch.setattr(track, "BATCH", 2)
    counts: Counter[str] = Counter()
    track.enqueue_feedback(factory, PROGRAM, settings, NOW + DAY, counts)
    assert counts["feedback emails enqueued"] == 0  # written before the crash, not again
    assert counts["Slack notes enqueued"] == 1
    track.enqueue_feedback(factory, PROGRAM, settings, NOW + DAY, counts)
    assert counts["Slack notes enqueued"] == 1
    with factory() as session:
        notes = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.template == "referral_news")
        ).all()
        contacted = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.template == "intro_contacted")
        )
    assert contacted == 5 and len(notes) == 1
    assert all(f"Co{n}" in notes[0]["text"] for n in range(5)), notes


def test_a_lost_deal_still_thanks_the_referrer(factory, env):
    settings, crm, deliverers = env
    _, code, _ = champion(factory)
    referral_id = submit(factory, settings, code, intro())
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=1))
    move(factory, referral(factory, referral_id).crm_deal_id, "closedlost", NOW + timedelta(days=2))
    sync_crm(factory, crm, PROGRAM, settings=settings)
    report = track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(days=2))
    assert report.counts["feedback emails enqueued"] == 1
    with factory() as session:
        last = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.subject_type == "referral", OutboxMessage.subject_id == referral_id
            )
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert last.template == "thanks_closed_lost" and "Thank you" in last.payload["subject"]


def test_a_personal_mailbox_waits_for_review_and_a_decision_continues_the_journey(factory, env):
    settings, _crm, deliverers = env
    w, code, _ = champion(factory)
    reviewer = w.csm()
    waiting = submit(
        factory, settings, code, intro(domain="", email="founder@gmail.com", company="Solo")
    )
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=1))
    assert referral(factory, waiting).eligibility is Eligibility.REVIEW
    assert "personal_email_referred" in referral(factory, waiting).reason_codes

    from db.models import TeamMember

    with factory() as session:
        email = session.get(TeamMember, reviewer).email
    result = decide_review(factory, PROGRAM, waiting, True, email, "known founder", NOW)
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=2))

    assert result.outcome is Eligibility.ELIGIBLE
    assert referral(factory, waiting).crm_deal_id is not None
    with factory() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "referral_reviewed")
        ).one()
    assert audit.actor == f"team_member:{reviewer}" and audit.details["reason"] == "known founder"


def test_a_rep_deal_carrying_a_code_becomes_a_referral_attached_to_it(factory, env):
    settings, crm, deliverers = env
    _, code, _ = champion(factory)
    from db.models import SandboxCompany, SandboxDealStageEntry

    with factory.begin() as session:
        session.add(
            SandboxCompany(
                id="7001",
                name="Prospect Co",
                domain="prospect.example",
                lifecycle="lead",
                properties={},
                created_at=NOW,
                updated_at=NOW,
            )
        )
        session.add(
            SandboxDeal(
                id="7002",
                company_id="7001",
                name="Prospect Co - new",
                pipeline_id="default",
                stage_id="qualifiedtobuy",
                source_channel="outbound",
                properties={"referral_code": code},
                created_at=NOW,
                stage_entered_at=NOW,
                updated_at=NOW,
            )
        )
        session.flush()
        session.add(
            SandboxDealStageEntry(deal_id="7002", stage_id="qualifiedtobuy", entered_at=NOW)
        )

    sync_crm(factory, crm, PROGRAM, settings=settings)
    track_referrals(factory, PROGRAM, settings, deliverers, NOW + timedelta(hours=1))

    with factory() as session:
        made = session.scalars(select(Referral)).one()
        deals = session.scalar(select(func.count()).select_from(SandboxDeal))
        tagged = session.get(SandboxDeal, "7002").properties
    assert (made.channel, made.crm_deal_id, made.eligibility) == (
        ReferralChannel.SALES_ASSISTED,
        "7002",
        Eligibility.ELIGIBLE,
    )
    assert deals == 1 and tagged["referral_program_id"] == made.external_id


@pytest.mark.postgres_only
@pytest.mark.skipif(not is_postgres(), reason="a real race needs PostgreSQL's row locks")
def test_two_runs_racing_for_one_company_make_exactly_one_winner(committed_factory, tmp_path):
    settings = Settings(REFERRALS_DATA_DIR=tmp_path, REFERRALS_SECRET_KEY="test-secret")

    from db.engine import transaction
    from tasks.referrals.decide import decide_batch

    _, first_code, _ = champion(committed_factory)
    _, second_code, _ = champion(committed_factory, "other-client.example")
    ids = [
        submit(committed_factory, settings, first_code, intro(domain="acme.io")),
        submit(
            committed_factory, settings, second_code, intro(domain="app.acme.io", email="x@acme.io")
        ),
    ]
    barrier = threading.Barrier(2)

    def run(referral_id):
        with transaction(committed_factory) as session:
            row = session.get(Referral, referral_id, with_for_update=True)
            barrier.wait()
            decide_batch(session, PROGRAM, [row], NOW, Counter())

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(str(referral(committed_factory, i).eligibility) for i in ids)
    assert outcomes == ["duplicate", "eligible"]
