"""The dispatcher on SendGrid: the real SDK against the local SendGrid server.

SendGrid's mail send cannot say what it has, so a mail whose answer was lost is parked
``in_doubt`` for a person after one more look, never sent a second time by the dispatcher;
what SendGrid itself refused (429, its own 5xx) is sent again; what it rejected stays failed
with its words. What counts is what the server holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.engine import transaction
from db.models import OutboxMessage
from db.repositories.outbox import mark_sent_manually
from db.repositories.suppressions import NewSuppression, suppress
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.deliverers import EmailDeliverer
from integrations.ports import Deliverer
from integrations.sendgrid.factory import build_sendgrid_mail
from tasks.outbox_dispatch import dispatch_outbox
from tasks.outbox_recovery import requeue_outbox
from tests.conftest import T0
from tests.factories import email, enqueue_messages
from tests.fakes.sendgrid_server import FakeSendGrid

QUICK = 0.3  # the client's read timeout; a "timeout" answer is held for a second
RERUNS = [timedelta(0), timedelta(minutes=5), timedelta(hours=1), timedelta(days=1)]


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(now=T0.timestamp) as server:
        yield server


def deliverers(sendgrid: FakeSendGrid) -> dict[OutboxChannel, Deliverer]:
    mail = build_sendgrid_mail(
        sendgrid.api_key,
        sendgrid.base_url,
        default_from="program@vendor.example",
        timeout=QUICK,
        sleep=lambda seconds: None,
        clock=T0.timestamp,
    )
    return {OutboxChannel.EMAIL: EmailDeliverer(mail)}


def rows(factory) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def rerun(factory, sendgrid: FakeSendGrid) -> None:
    for delay in RERUNS:
        dispatch_outbox(factory, deliverers(sendgrid), T0 + delay)


def test_each_row_is_one_mail_with_its_outbox_key_and_ids(factory, sendgrid):
    message = email(1)
    message.payload.update(
        categories=["referral", "thanks_closed_won"],
        custom_args={"referral_id": 7},
        headers={"List-Unsubscribe": "<https://refer.example/u/t>"},
    )
    enqueue_messages(factory, [message, email(2)], T0)

    report = dispatch_outbox(factory, deliverers(sendgrid), T0)
    rerun(factory, sendgrid)

    assert report.sent == {"email": 2} and len(sendgrid.mails) == 2
    body = sendgrid.mails_to(message.recipient)[0].body
    assert body["custom_args"] == {"referral_id": "7", "outbox_key": message.dedupe_key}
    assert body["categories"] == ["referral", "thanks_closed_won"]
    assert body["headers"] == {"List-Unsubscribe": "<https://refer.example/u/t>"}
    assert [r.provider_id for r in rows(factory)] == [m.message_id for m in sendgrid.mails]


@pytest.mark.parametrize("mode", ["timeout", "cut", "disconnect", "5xx"])
def test_a_mail_whose_answer_is_lost_is_parked_for_a_person_never_sent_twice(
    factory, sendgrid, mode
):
    enqueue_messages(factory, [email(1), email(2)], T0)
    sendgrid.lose_answer_next(mode)

    lost = dispatch_outbox(factory, deliverers(sendgrid), T0)
    rerun(factory, sendgrid)

    assert lost.answer_lost == {"email": 1} and lost.sent == {"email": 1}
    assert len(sendgrid.mails_to(email(1).recipient)) == 1
    assert len(sendgrid.requests) == 2  # not one more request, whatever the reruns
    first, second = rows(factory)
    assert first.status == OutboxStatus.IN_DOUBT and second.status == OutboxStatus.SENT
    assert "email cannot confirm delivery" in (first.last_error or "")

    # A person checks SendGrid's activity feed, finds the mail, and says so.
    with transaction(factory) as session:
        mark_sent_manually(session, [first.id], T0 + timedelta(days=2))
    rerun(factory, sendgrid)
    assert rows(factory)[0].status == OutboxStatus.SENT and len(sendgrid.mails) == 2


def test_a_person_who_requeues_an_in_doubt_mail_sends_it_again_once(factory, sendgrid):
    """Their decision: SendGrid cannot be asked, so the requeue sends without asking."""
    enqueue_messages(factory, [email(1)], T0)
    sendgrid.lose_answer_next("5xx")
    rerun(factory, sendgrid)
    [row] = rows(factory)
    assert row.status == OutboxStatus.IN_DOUBT

    report = requeue_outbox(factory, deliverers(sendgrid), [row.id], T0 + timedelta(days=2))
    rerun(factory, sendgrid)
    dispatch_outbox(factory, deliverers(sendgrid), T0 + timedelta(days=3))

    assert report.requeued == [row.id]
    assert len(sendgrid.mails_to(email(1).recipient)) == 2  # the lost one and the requeued one
    assert rows(factory)[0].status == OutboxStatus.SENT


def test_sendgrids_own_5xx_is_sent_again_later_and_arrives_once(factory, sendgrid):
    enqueue_messages(factory, [email(1)], T0)
    sendgrid.fail_next(503, times=5)  # every attempt of the first run

    first = dispatch_outbox(factory, deliverers(sendgrid), T0)
    [row] = rows(factory)
    rerun(factory, sendgrid)

    assert first.retrying == {"email": 1} and sum(first.answer_lost.values()) == 0
    assert (row.status, row.verify_first) == (OutboxStatus.PENDING, False)
    assert "SendGrid 503: service unavailable" in (row.last_error or "")
    assert len(sendgrid.mails) == 1 and rows(factory)[0].status == OutboxStatus.SENT


def test_a_rate_limit_beyond_the_retries_reschedules_at_the_reset(factory, sendgrid):
    enqueue_messages(factory, [email(n) for n in range(3)], T0)
    sendgrid.fail_next(429, reset=T0.timestamp() + 600, times=10)

    limited = dispatch_outbox(factory, deliverers(sendgrid), T0)
    too_early = dispatch_outbox(factory, deliverers(sendgrid), T0 + timedelta(seconds=599))
    after = dispatch_outbox(factory, deliverers(sendgrid), T0 + timedelta(seconds=600))

    # The first chunk is one row (it shows the pace): five attempts. The next chunk's first
    # row meets the limit five times too, and the row after it is not tried at all.
    assert limited.retrying == {"email": 3}
    assert sum(too_early.sent.values()) == 0 and after.sent == {"email": 3}
    assert sendgrid.statuses() == [429] * (5 + 5) + [202] * 3
    assert len(sendgrid.mails) == 3


def test_a_rejected_mail_fails_with_sendgrids_words(factory, sendgrid):
    message = email(1)
    message.payload["headers"] = {"Reply-To": "someone@vendor.example"}  # reserved at SendGrid
    enqueue_messages(factory, [message], T0)

    report = dispatch_outbox(factory, deliverers(sendgrid), T0)
    rerun(factory, sendgrid)

    [row] = rows(factory)
    assert report.failed == {"email": 1} and row.status == OutboxStatus.FAILED
    assert row.last_error == (
        "SendGrid 400: The header Reply-To is reserved and cannot be set. (field headers.Reply-To)"
    )
    assert sendgrid.statuses() == [400]


def test_a_suppressed_recipient_never_reaches_sendgrid(factory, sendgrid):
    enqueue_messages(factory, [email(1), email(2)], T0)
    with transaction(factory) as session:
        suppress(session, [NewSuppression(email(1).recipient, "spamreport", "sendgrid")], T0)

    report = dispatch_outbox(factory, deliverers(sendgrid), T0)

    assert report.suppressed == {"email": 1} and report.sent == {"email": 1}
    assert [m.recipients for m in sendgrid.mails] == [[email(2).recipient]]


class StartedAtEachSend:
    """The SendGrid adapter, noting before each request how many rows are marked started
    and not yet recorded: what a crash at that moment would leave in doubt."""

    def __init__(self, mail, factory) -> None:  # type: ignore[no-untyped-def]
        self.mail = mail
        self.factory = factory
        self.in_doubt_if_killed: list[int] = []

    def send(self, messages):  # type: ignore[no-untyped-def]
        with self.factory() as session:
            started = session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.status == OutboxStatus.SENDING,
                    OutboxMessage.send_started_at.is_not(None),
                )
            ).all()
        self.in_doubt_if_killed.append(len(started))
        return self.mail.send(messages)

    def find_sent(self, keys):  # type: ignore[no-untyped-def]
        return self.mail.find_sent(keys)


def test_sendgrid_mails_go_one_at_a_time_so_a_crash_leaves_at_most_one_in_doubt(factory, sendgrid):
    enqueue_messages(factory, [email(n) for n in range(6)], T0)
    sender = StartedAtEachSend(deliverers(sendgrid)[OutboxChannel.EMAIL].sender, factory)

    report = dispatch_outbox(factory, {OutboxChannel.EMAIL: EmailDeliverer(sender)}, T0)

    assert report.sent == {"email": 6}
    assert sender.in_doubt_if_killed == [1] * 6  # one request per mail, one row started
