"""A dispatcher keeps its lease while it sends: a batch that takes longer than the lease is not
mistaken for a dead dispatcher's by another one running at the same time."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from db.engine import transaction
from db.models import OutboxMessage
from db.repositories import outbox as repo
from db.repositories.outbox_steps import email_steps
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.deliverers import EmailDeliverer
from integrations.sandbox.email_folder import EmailFolderSender
from tasks.outbox_dispatch import DispatchPolicy, dispatch_outbox
from tasks.outbox_report import DispatchReport
from tests.conftest import T0, is_postgres
from tests.factories import email, enqueue_messages

SENDS = 30
SEND_MS = 500
LEASE = timedelta(seconds=2)  # a quarter of what one batch of 30 sends takes


def test_a_batch_longer_than_the_lease_is_sent_once_with_another_dispatcher_running(
    committed_factory, tmp_path
):
    sender = EmailFolderSender(tmp_path / "outbox", "program@example.com", SEND_MS)
    deliverers = {OutboxChannel.EMAIL: EmailDeliverer(sender)}
    enqueue_messages(committed_factory, [email(n) for n in range(SENDS)], T0)
    policy = DispatchPolicy(lease=LEASE)
    first_done = threading.Event()
    reports: list[DispatchReport] = []
    errors: list[BaseException] = []

    def first() -> None:
        try:
            reports.append(dispatch_outbox(committed_factory, deliverers, T0, policy))
        except BaseException as error:  # surfaced below; a thread swallows it otherwise
            errors.append(error)
        finally:
            first_done.set()

    def second() -> None:
        """Another dispatcher, run again and again (as a schedule would) until the first ends."""
        try:
            while not first_done.is_set():
                reports.append(dispatch_outbox(committed_factory, deliverers, T0, policy))
                first_done.wait(0.1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    journal = (tmp_path / "outbox" / "_journal.log").read_text().splitlines()
    assert Counter(line.split(" ", 1)[0] for line in journal) == {"written": SENDS}
    assert sum(r.sent["email"] for r in reports) == SENDS
    assert sum(sum(r.confirmed_after_crash.values()) for r in reports) == 0
    with committed_factory() as session:
        statuses = Counter(str(s) for s in session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent": SENDS}


class TakenOverMidBatch:
    """Sends, and during the first send another dispatcher takes over the rows still waiting
    (as it would once their lease ran out)."""

    def __init__(self, inner: EmailFolderSender, factory) -> None:
        self.inner = inner
        self.factory = factory
        self.sent: list[str] = []

    def send(self, messages):
        if not self.sent:
            with transaction(self.factory) as session:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.SENDING)
                    .where(OutboxMessage.dedupe_key.not_in([m.dedupe_key for m in messages]))
                    .values(claim_token="another-dispatcher")
                )
        self.sent += [m.dedupe_key for m in messages]
        return self.inner.send(messages)

    def find_sent(self, keys):
        return self.inner.find_sent(keys)


def test_rows_whose_claim_was_taken_over_are_not_sent(factory, tmp_path):
    sender = TakenOverMidBatch(EmailFolderSender(tmp_path / "outbox", "p@example.com"), factory)
    enqueue_messages(factory, [email(n) for n in range(5)], T0)

    report = dispatch_outbox(factory, {OutboxChannel.EMAIL: EmailDeliverer(sender)}, T0)

    assert sender.sent == [email(0).dedupe_key]
    assert report.sent == {"email": 1} and report.lease_lost == {"email": 4}
    with factory() as session:
        claims = Counter(session.scalars(select(OutboxMessage.claim_token)))
    assert claims == {None: 1, "another-dispatcher": 4}


def test_a_claim_takes_at_most_its_batch_size_on_every_database(factory):
    enqueue_messages(factory, [email(n) for n in range(12)], T0)
    sizes = []
    for n in range(4):
        with transaction(factory) as session:
            sizes.append(len(repo.claim_due(session, T0, 5, f"token-{n}", [OutboxChannel.EMAIL])))
    assert sizes == [5, 5, 2, 0]


def _claimed_with_the_last_taken_over(factory) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Three email rows claimed by "ours"; another dispatcher ("theirs") took the third."""
    enqueue_messages(factory, [email(n) for n in range(3)], T0)
    with transaction(factory) as session:
        first, second, third = (
            row.id for row in repo.claim_due(session, T0, 3, "ours", [OutboxChannel.EMAIL])
        )
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == third).values(claim_token="theirs")
        )
    return first, second, third


def test_the_step_between_two_emails_records_one_and_marks_the_next_only_while_claimed(factory):
    """``record_then_mark_started``: the last email's outcome is written and the next row
    marked started, unless another dispatcher has taken it."""
    first, second, third = _claimed_with_the_last_taken_over(factory)
    sent = repo.Outcome(first, OutboxStatus.SENT, provider_id="msg-1", sent_at=T0)
    failed = repo.Outcome(second, OutboxStatus.FAILED, last_error="SendGrid 400: bad address")
    with transaction(factory) as session:
        assert repo.record_then_mark_started(session, "ours", [sent], second, T0) is True
    with transaction(factory) as session:
        assert repo.record_then_mark_started(session, "ours", [failed], third, T0) is False

    with factory() as session:
        rows = {r.id: r for r in session.scalars(select(OutboxMessage))}
    assert (rows[first].status, rows[first].provider_id) == (OutboxStatus.SENT, "msg-1")
    assert rows[first].claim_token is None and rows[first].send_started_at is None
    assert (rows[second].status, rows[second].last_error) == (
        OutboxStatus.FAILED,
        "SendGrid 400: bad address",
    )
    assert rows[second].send_started_at is None  # marked by the first step, cleared by its outcome
    assert rows[third].claim_token == "theirs" and rows[third].send_started_at is None


def test_email_steps_on_their_own_connection_record_mark_and_commit(committed_factory):
    """The dispatcher's per-email step as it runs in production (on PostgreSQL straight on
    the driver): each step is committed, marks only a row still claimed, and stores the
    outcome's values as the ORM path does (status value, UTC times, cleared claim)."""
    first, second, third = _claimed_with_the_last_taken_over(committed_factory)
    later = T0 + timedelta(hours=2)
    with email_steps(committed_factory) as steps:
        assert steps.step("ours", [], first, T0) is True
        with committed_factory() as other:  # committed: another connection sees the mark
            assert other.get(OutboxMessage, first).send_started_at == T0
        sent = repo.Outcome(first, OutboxStatus.SENT, provider_id="msg-1", sent_at=T0)
        assert steps.step("ours", [sent], second, T0) is True
        retry = repo.Outcome(
            second, OutboxStatus.PENDING, last_error="SendGrid 503", next_attempt_at=later
        )
        assert steps.step("ours", [retry], third, T0) is False

    with committed_factory() as session:
        rows = {r.id: r for r in session.scalars(select(OutboxMessage))}
    assert (rows[first].status, rows[first].provider_id, rows[first].sent_at) == (
        OutboxStatus.SENT,
        "msg-1",
        T0,
    )
    assert rows[first].claim_token is None and rows[first].send_started_at is None
    assert (rows[second].status, rows[second].next_attempt_at) == (OutboxStatus.PENDING, later)
    assert rows[second].last_error == "SendGrid 503" and rows[second].claim_token is None
    assert rows[third].claim_token == "theirs" and rows[third].send_started_at is None


@pytest.mark.skipif(not is_postgres(), reason="SQLite does not enforce column lengths")
def test_a_refused_email_step_is_a_database_error_and_leaves_the_rows_as_they_were(
    committed_factory,
):
    """A statement the database refuses (here a provider id longer than its column) raises
    SQLAlchemy's error, as the session path does, with no values in its text; the step is
    rolled back whole, and the connection is usable for the next step."""
    enqueue_messages(committed_factory, [email(n) for n in range(2)], T0)
    with transaction(committed_factory) as session:
        first, second = (
            row.id for row in repo.claim_due(session, T0, 2, "ours", [OutboxChannel.EMAIL])
        )
    too_long = repo.Outcome(first, OutboxStatus.SENT, provider_id="x" * 300, sent_at=T0)
    with email_steps(committed_factory) as steps:
        assert steps.step("ours", [], first, T0) is True
        with pytest.raises(DBAPIError) as refused:
            steps.step("ours", [too_long], second, T0)
        assert "x" * 300 not in str(refused.value)
        assert steps.step("ours", [], second, T0) is True  # the same connection goes on
    with committed_factory() as session:
        rows = {r.id: r for r in session.scalars(select(OutboxMessage))}
    assert rows[first].status is OutboxStatus.SENDING and rows[first].provider_id is None
    assert rows[second].send_started_at is not None
