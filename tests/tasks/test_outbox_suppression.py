"""The dispatcher checks every email row against the suppression list when it claims it:
a suppressed recipient gets nothing, whatever enqueued the row and whenever the address was
added, and the row ends ``suppressed`` with the reason."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, select, update

from db.engine import transaction
from db.models import OutboxMessage
from db.repositories.outbox import NewMessage
from db.repositories.suppressions import NewSuppression, suppress, unsuppress
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.deliverers import ChatDeliverer, EmailDeliverer
from integrations.ports import Deliverer, OutboundItem
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.email_folder import EmailFolderSender
from tasks.outbox_dispatch import DispatchPolicy, dispatch_outbox
from tasks.outbox_recovery import requeue_outbox
from tests.conftest import T0
from tests.factories import chat, email, enqueue_messages


def deliverers(tmp_path: Path) -> dict[OutboxChannel, Deliverer]:
    return {
        OutboxChannel.EMAIL: EmailDeliverer(
            EmailFolderSender(tmp_path / "outbox", "program@example.com")
        ),
        OutboxChannel.CHAT: ChatDeliverer(ChatLogNotifier(tmp_path / "chat.log")),
    }


def item(message: NewMessage) -> OutboundItem:
    return OutboundItem(message.dedupe_key, message.operation, message.recipient, message.payload)


def written(tmp_path: Path) -> int:
    return len(list((tmp_path / "outbox").glob("*.eml")))


def suppress_addresses(factory, *entries: tuple[str, str]) -> None:
    with transaction(factory) as session:
        suppress(session, [NewSuppression(e, reason, "sendgrid") for e, reason in entries], T0)


def rows(factory) -> dict[str, OutboxMessage]:
    with factory() as session:
        return {r.dedupe_key: r for r in session.scalars(select(OutboxMessage))}


def test_a_suppressed_recipient_gets_nothing_and_the_row_says_why(factory, tmp_path):
    enqueue_messages(factory, [email(n) for n in range(4)] + [chat(1)], T0)
    suppress_addresses(
        factory, (email(1).recipient.upper(), "bounce"), (email(3).recipient, "unsubscribe")
    )

    report = dispatch_outbox(factory, deliverers(tmp_path), T0)
    again = dispatch_outbox(factory, deliverers(tmp_path), T0 + timedelta(days=1))

    assert report.suppressed == {"email": 2} and report.sent == {"email": 2, "chat": 1}
    assert sum(again.sent.values()) == sum(again.suppressed.values()) == 0
    assert written(tmp_path) == 2
    by_key = rows(factory)
    assert by_key[email(1).dedupe_key].status == OutboxStatus.SUPPRESSED
    assert by_key[email(1).dedupe_key].last_error == (
        "not sent: the recipient is on the suppression list (bounce)"
    )
    assert "(unsubscribe)" in (by_key[email(3).dedupe_key].last_error or "")
    assert by_key[email(1).dedupe_key].sent_at is None
    assert {r["channel"]: r["suppressed"] for r in report.rows()} == {"chat": 0, "email": 2}


def test_one_suppression_query_per_claimed_batch(factory, tmp_path):
    enqueue_messages(factory, [email(n) for n in range(12)], T0)
    suppress_addresses(factory, (email(5).recipient, "spamreport"))
    statements: list[str] = []
    engine = factory.kw["bind"].engine

    def count(conn, cursor, statement, *args) -> None:
        if "FROM suppressions" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        report = dispatch_outbox(factory, deliverers(tmp_path), T0, DispatchPolicy(batch_size=5))
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert report.batches >= 1 and len(statements) == report.batches
    assert report.suppressed == {"email": 1} and report.sent == {"email": 11}


def test_chat_and_crm_rows_are_not_checked(factory, tmp_path):
    enqueue_messages(factory, [chat(1)], T0)
    suppress_addresses(factory, (chat(1).recipient, "unsubscribe"))  # a Slack id, not an email
    assert dispatch_outbox(factory, deliverers(tmp_path), T0).sent == {"chat": 1}


def test_an_address_suppressed_after_a_failure_is_not_sent_on_requeue(factory, tmp_path):
    enqueue_messages(factory, [email(1)], T0)
    with transaction(factory) as session:
        session.execute(update(OutboxMessage).values(status=OutboxStatus.FAILED))
    suppress_addresses(factory, (email(1).recipient, "unsubscribe"))
    [row] = rows(factory).values()

    requeue_outbox(factory, deliverers(tmp_path), [row.id], T0)
    report = dispatch_outbox(factory, deliverers(tmp_path), T0)

    assert report.suppressed == {"email": 1} and written(tmp_path) == 0
    assert rows(factory)[email(1).dedupe_key].status == OutboxStatus.SUPPRESSED


def test_a_lost_answer_is_still_settled_by_the_vendor_before_suppressing(factory, tmp_path):
    """The vendor had it: that is sent, not suppressed; it lacked it: suppressed, not sent."""
    enqueue_messages(factory, [email(1), email(2)], T0)
    sender = EmailFolderSender(tmp_path / "outbox", "program@example.com")
    EmailDeliverer(sender).deliver([item(email(1))])  # arrived, its answer lost
    with transaction(factory) as session:
        session.execute(update(OutboxMessage).values(verify_first=True))
    suppress_addresses(factory, (email(1).recipient, "bounce"), (email(2).recipient, "bounce"))

    report = dispatch_outbox(factory, deliverers(tmp_path), T0)

    assert report.confirmed_after_lost_answer == {"email": 1}
    assert report.suppressed == {"email": 1} and written(tmp_path) == 1
    statuses = Counter(r.status for r in rows(factory).values())
    assert statuses == {OutboxStatus.SENT: 1, OutboxStatus.SUPPRESSED: 1}


def test_an_address_taken_off_the_list_receives_new_mail(factory, tmp_path):
    suppress_addresses(factory, (email(1).recipient, "unsubscribe"))
    with transaction(factory) as session:
        unsuppress(session, [email(1).recipient])
    enqueue_messages(factory, [email(1)], T0)
    assert dispatch_outbox(factory, deliverers(tmp_path), T0).sent == {"email": 1}
