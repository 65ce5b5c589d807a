"""The dispatcher delivers each outbox row exactly once: across reruns, transient failures,
crashes mid-send, and two dispatchers running at once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from db.engine import transaction
from db.models import OutboxMessage
from db.repositories import outbox as repo
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.deliverers import ChatDeliverer, EmailDeliverer
from integrations.errors import TransientError
from integrations.ports import DeliveryResult, EmailMessage
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.email_folder import EmailFolderSender
from tasks.outbox_dispatch import DispatchPolicy, dispatch_outbox
from tasks.outbox_recovery import requeue_outbox
from tests.conftest import T0
from tests.factories import chat, email, enqueue_messages


def journal(folder: Path) -> Counter[str]:
    path = folder / "_journal.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(line.split(" ", 1)[0] for line in lines)


def statuses(factory) -> Counter[str]:
    with factory() as session:
        return Counter(str(s) for s in session.scalars(select(OutboxMessage.status)))


def sandbox(tmp_path: Path, delay_ms: int = 0):
    sender = EmailFolderSender(tmp_path / "outbox", "program@example.com", delay_ms)
    notifier = ChatLogNotifier(tmp_path / "chat.log")
    return (
        sender,
        notifier,
        {
            OutboxChannel.EMAIL: EmailDeliverer(sender),
            OutboxChannel.CHAT: ChatDeliverer(notifier),
        },
    )


def test_two_runs_deliver_each_row_once(factory, tmp_path):
    _, _, deliverers = sandbox(tmp_path)
    enqueue_messages(factory, [email(n) for n in range(5)] + [chat(n) for n in range(3)], T0)

    first = dispatch_outbox(factory, deliverers, T0)
    second = dispatch_outbox(factory, deliverers, T0 + timedelta(hours=1))

    assert first.sent == {"email": 5, "chat": 3}
    assert sum(second.sent.values()) == 0
    assert journal(tmp_path / "outbox") == {"written": 5}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 5
    assert len((tmp_path / "chat.log").read_text().splitlines()) == 3
    assert statuses(factory) == {"sent": 8}
    with factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert all(r.provider_id and r.sent_at == T0 and r.attempts == 1 for r in rows)


def test_enqueueing_the_same_dedupe_key_twice_keeps_one_row(factory):
    assert enqueue_messages(factory, [email(1), email(2)], T0) == 2
    assert enqueue_messages(factory, [email(1), email(3)], T0) == 1
    assert statuses(factory) == {"pending": 3}


class FlakyEmail:
    """Fails the first ``failures`` calls transiently, then delegates to the real sandbox."""

    def __init__(self, inner: EmailFolderSender, failures: int, retry_after: float | None = None):
        self.inner = inner
        self.failures = failures
        self.retry_after = retry_after
        self.calls = 0

    def send(self, messages: Sequence[EmailMessage]) -> list[DeliveryResult]:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientError("503 Service Unavailable", retry_after=self.retry_after)
        return self.inner.send(messages)

    def find_sent(self, keys):
        return self.inner.find_sent(keys)


def test_transient_failure_is_retried_later_and_delivered_once(factory, tmp_path):
    sender, _, _ = sandbox(tmp_path)
    flaky = FlakyEmail(sender, failures=99, retry_after=300)
    deliverers = {OutboxChannel.EMAIL: EmailDeliverer(flaky)}
    enqueue_messages(factory, [email(n) for n in range(4)], T0)

    failed_run = dispatch_outbox(factory, deliverers, T0, rng=random.Random(1))
    flaky.failures = 0  # the vendor is back
    too_early = dispatch_outbox(factory, deliverers, T0 + timedelta(seconds=299))
    later = dispatch_outbox(factory, deliverers, T0 + timedelta(hours=1))
    again = dispatch_outbox(factory, deliverers, T0 + timedelta(hours=2))

    assert failed_run.retrying == {"email": 4}
    assert sum(too_early.sent.values()) == 0  # Retry-After of 300 s is honoured
    assert later.sent == {"email": 4}
    assert sum(again.sent.values()) == 0
    assert journal(tmp_path / "outbox") == {"written": 4}
    with factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert {(r.status, r.attempts) for r in rows} == {(OutboxStatus.SENT, 2)}
        assert all(r.last_error == "503 Service Unavailable" for r in rows)


class RejectingEmail:
    """Rejects one recipient permanently, accepts the others."""

    def __init__(self, inner: EmailFolderSender, bad_recipient: str) -> None:
        self.inner = inner
        self.bad = bad_recipient
        self.seen: list[str] = []

    def send(self, messages):
        self.seen += [m.dedupe_key for m in messages]
        good = [m for m in messages if m.to != self.bad]
        sent = {r.dedupe_key: r for r in self.inner.send(good)}
        return [
            sent.get(m.dedupe_key)
            or DeliveryResult(m.dedupe_key, error="400 invalid email address: to[0]")
            for m in messages
        ]

    def find_sent(self, keys):
        return self.inner.find_sent(keys)


def test_permanent_failure_is_stored_and_never_retried(factory, tmp_path):
    sender, _, _ = sandbox(tmp_path)
    rejecting = RejectingEmail(sender, email(2).recipient)
    deliverers = {OutboxChannel.EMAIL: EmailDeliverer(rejecting)}
    enqueue_messages(factory, [email(n) for n in range(3)], T0)

    report = dispatch_outbox(factory, deliverers, T0)
    dispatch_outbox(factory, deliverers, T0 + timedelta(days=2))

    assert report.sent == {"email": 2} and report.failed == {"email": 1}
    assert rejecting.seen.count(email(2).dedupe_key) == 1
    with factory() as session:
        failed = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
        ).one()
        assert failed.dedupe_key == email(2).dedupe_key
        assert failed.last_error == "400 invalid email address: to[0]"


def test_attempts_are_bounded(factory, tmp_path):
    sender, _, _ = sandbox(tmp_path)
    deliverers = {OutboxChannel.EMAIL: EmailDeliverer(FlakyEmail(sender, failures=99))}
    enqueue_messages(factory, [email(1)], T0)
    policy = DispatchPolicy(max_attempts=3)
    for hour in range(0, 48, 6):
        dispatch_outbox(factory, deliverers, T0 + timedelta(hours=hour), policy)
    with factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 3)
    assert row.last_error == "gave up after 3 attempts: 503 Service Unavailable"


def at_wall(moment) -> DispatchPolicy:
    """A policy whose lease clock reads ``moment`` (leases run on real time otherwise)."""
    return DispatchPolicy(wall_clock=lambda: moment)


def _strand_in_sending(
    factory, sender: EmailFolderSender, send_first: int, started: bool = True
) -> None:
    """What a dispatcher killed mid-batch leaves behind: rows claimed, marked started (or
    not, when it died before its first send), some actually sent."""
    with transaction(factory) as session:
        claimed = repo.claim_due(session, T0, 100, "dead-dispatcher", [OutboxChannel.EMAIL])
        keys = [(row.dedupe_key, row.recipient) for row in claimed]
        if started:
            repo.mark_started(session, "dead-dispatcher", [row.id for row in claimed], T0)
    sender.send([EmailMessage(key, to, "s", "t") for key, to in keys[:send_first]])


def test_rows_claimed_but_never_started_are_sent_again_without_asking(factory, tmp_path):
    """A dispatcher killed after its claim and before its first send sent nothing: even a
    vendor that cannot be asked (SendGrid) gets those rows once, none parked in doubt."""
    sender, _, _ = sandbox(tmp_path)
    blind = BlindEmail(sender, failures=0)
    enqueue_messages(factory, [email(n) for n in range(3)], T0)
    _strand_in_sending(factory, sender, send_first=0, started=False)

    report = dispatch_outbox(
        factory, {OutboxChannel.EMAIL: EmailDeliverer(blind)}, T0, at_wall(T0 + timedelta(hours=1))
    )

    assert report.requeued_after_crash == {"email": 3} and report.sent == {"email": 3}
    assert sum(report.in_doubt.values()) == 0
    assert journal(tmp_path / "outbox") == {"written": 3}
    assert statuses(factory) == {"sent": 3}


def test_a_blind_vendor_s_rows_go_one_at_a_time_each_started_before_its_send(factory, tmp_path):
    """Rows of a vendor that cannot be asked are marked started one at a time, in the commit
    that records the previous one: a crash mid-batch leaves at most one row in doubt."""
    sender, _, _ = sandbox(tmp_path)
    seen: list[dict[str, int]] = []

    class Watching(BlindEmail):
        def send(self, messages):
            with factory() as session:
                rows = session.scalars(select(OutboxMessage)).all()
                seen.append(
                    {
                        "started": sum(r.send_started_at is not None for r in rows),
                        "sent": sum(r.status == OutboxStatus.SENT for r in rows),
                    }
                )
            return super().send(messages)

    enqueue_messages(factory, [email(n) for n in range(4)], T0)
    dispatch_outbox(factory, {OutboxChannel.EMAIL: EmailDeliverer(Watching(sender, 0))}, T0)

    # Each send sees exactly one row started (its own) and every earlier one recorded sent.
    assert seen == [{"started": 1, "sent": n} for n in range(4)]
    assert statuses(factory) == {"sent": 4}


def test_rows_stranded_by_a_crash_are_confirmed_with_the_vendor_not_resent(factory, tmp_path):
    sender, _, deliverers = sandbox(tmp_path)
    enqueue_messages(factory, [email(n) for n in range(6)], T0)
    _strand_in_sending(factory, sender, send_first=4)

    within_lease = dispatch_outbox(factory, deliverers, T0, at_wall(T0 + timedelta(minutes=5)))
    after_lease = dispatch_outbox(factory, deliverers, T0, at_wall(T0 + timedelta(minutes=31)))

    assert sum(within_lease.sent.values()) == 0  # a live dispatcher may still own them
    # The run's program time plays no part in the lease: only real (wall) time does.
    assert after_lease.confirmed_after_crash == {"email": 4}
    assert after_lease.requeued_after_crash == {"email": 2}
    assert after_lease.sent == {"email": 2}
    assert journal(tmp_path / "outbox") == {"written": 6}
    assert statuses(factory) == {"sent": 6}


class BlindEmail(FlakyEmail):
    """A vendor with no way to ask what it already accepted (like SendGrid's mail send)."""

    def find_sent(self, keys):
        return None


def test_unconfirmable_stranded_rows_are_parked_in_doubt_for_a_person(factory, tmp_path):
    sender, _, _ = sandbox(tmp_path)
    deliverers = {OutboxChannel.EMAIL: EmailDeliverer(BlindEmail(sender, failures=0))}
    enqueue_messages(factory, [email(n) for n in range(3)], T0)
    _strand_in_sending(factory, sender, send_first=1)

    report = dispatch_outbox(factory, deliverers, T0, at_wall(T0 + timedelta(hours=1)))
    assert report.in_doubt == {"email": 3} and sum(report.sent.values()) == 0
    assert journal(tmp_path / "outbox") == {"written": 1}

    with transaction(factory) as session:
        ids = {r.dedupe_key: r.id for r in session.scalars(select(OutboxMessage))}
        assert repo.mark_sent_manually(session, [ids[email(0).dedupe_key]], T0) == 1
    requeued = requeue_outbox(
        factory, deliverers, [ids[email(1).dedupe_key], ids[email(2).dedupe_key]], T0
    )
    assert len(requeued.requeued) == 2  # the vendor cannot tell: the person's decision stands
    dispatch_outbox(factory, deliverers, T0 + timedelta(hours=2))
    assert journal(tmp_path / "outbox") == {"written": 3}
    assert statuses(factory) == {"sent": 3}


def test_two_dispatchers_at_once_deliver_each_row_once(committed_factory, tmp_path):
    _, _, deliverers = sandbox(tmp_path, delay_ms=1)
    enqueue_messages(committed_factory, [email(n) for n in range(120)], T0)
    policy = DispatchPolicy(batch_size=10)
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(dispatch_outbox(committed_factory, deliverers, T0, policy))
        except BaseException as error:  # surfaced below; a thread swallows it otherwise
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sum(r.sent["email"] for r in reports) == 120
    assert journal(tmp_path / "outbox") == {"written": 120}
    assert statuses(committed_factory) == {"sent": 120}


def test_a_long_run_is_not_mistaken_for_a_dead_one_by_a_concurrent_dispatcher(factory, tmp_path):
    """Program time says a day later; real time says five minutes: the claim still holds."""
    _, _, deliverers = sandbox(tmp_path)
    enqueue_messages(factory, [email(n) for n in range(2)], T0)
    wall = T0 + timedelta(days=200)
    with transaction(factory) as session:
        repo.claim_due(session, T0, 100, "slow-run", [OutboxChannel.EMAIL], claimed_at=wall)

    other = dispatch_outbox(
        factory, deliverers, T0 + timedelta(days=1), at_wall(wall + timedelta(minutes=5))
    )

    assert sum(other.confirmed_after_crash.values()) + sum(other.sent.values()) == 0
    assert journal(tmp_path / "outbox") == {}


class AskingFails(FlakyEmail):
    def __init__(self, inner, error):
        super().__init__(inner, failures=0)
        self.error = error

    def find_sent(self, keys):
        raise self.error


def test_a_failing_vendor_check_parks_or_retries_stranded_rows_without_stopping_delivery(
    factory, tmp_path
):
    from integrations.errors import PermanentError

    sender, _, _ = sandbox(tmp_path)
    enqueue_messages(factory, [email(n) for n in range(2)], T0)
    _strand_in_sending(factory, sender, send_first=0)
    enqueue_messages(factory, [email(9, prefix="fresh")], T0)
    later = at_wall(T0 + timedelta(hours=1))

    transient = {OutboxChannel.EMAIL: EmailDeliverer(AskingFails(sender, TransientError("503")))}
    report = dispatch_outbox(factory, transient, T0, later)
    assert report.sent == {"email": 1} and sum(report.in_doubt.values()) == 0  # fresh row went

    permanent = {
        OutboxChannel.EMAIL: EmailDeliverer(AskingFails(sender, PermanentError("missing scope")))
    }
    parked = dispatch_outbox(factory, permanent, T0, at_wall(T0 + timedelta(hours=2)))
    assert parked.in_doubt == {"email": 2}


def test_payouts_a_crash_caught_mid_hand_over_are_handed_over_again_not_parked(factory):
    """The finance queue has no answer to lose (a repeat queues the same row again), so
    payouts a dead dispatcher had started are handed over again, never left for a person."""
    from db.repositories.outbox import NewMessage
    from integrations.deliverers import FulfilmentDeliverer
    from integrations.finance_queue import FinanceQueue

    payouts = [
        NewMessage(
            channel=OutboxChannel.FULFILMENT,
            operation="queue_payout",
            recipient=f"person{n}@client.example",
            dedupe_key=f"payout:reward:{n}",
            template="payout",
            payload={"reward_id": n, "amount": "500.00", "currency": "USD"},
        )
        for n in range(1, 4)
    ]
    enqueue_messages(factory, payouts, T0)
    with transaction(factory) as session:
        claimed = repo.claim_due(session, T0, 100, "dead", [OutboxChannel.FULFILMENT])
        repo.mark_started(session, "dead", [row.id for row in claimed], T0)

    report = dispatch_outbox(
        factory,
        {OutboxChannel.FULFILMENT: FulfilmentDeliverer(FinanceQueue())},
        T0,
        at_wall(T0 + timedelta(hours=1)),
    )

    assert sum(report.in_doubt.values()) == 0 and report.sent == {"fulfilment": 3}
    assert statuses(factory) == {"sent": 3}


def test_the_first_chunk_of_crm_writes_is_one_batch_call_not_one_row(factory):
    """Before the dispatcher has measured a channel's pace it sends one vendor call's worth:
    a CRM batch of 100, not a single row (which would cost HubSpot an extra call)."""
    from db.repositories.outbox import NewMessage
    from integrations.deliverers import CrmDeliverer

    class RecordingCrm:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def create_tasks(self, tasks):
            self.batches.append(len(tasks))
            return [DeliveryResult(t.dedupe_key, provider_id=t.dedupe_key) for t in tasks]

    tasks = [
        NewMessage(
            channel=OutboxChannel.CRM,
            operation="create_task",
            recipient="owner-1",
            dedupe_key=f"crm-task:ask:{n}",
            payload={"subject": "Ask", "body": "...", "due_at": T0.isoformat()},
        )
        for n in range(250)
    ]
    enqueue_messages(factory, tasks, T0)
    crm = RecordingCrm()

    dispatch_outbox(factory, {OutboxChannel.CRM: CrmDeliverer(crm)}, T0)

    assert crm.batches[0] == 100 and sum(crm.batches) == 250
    assert statuses(factory) == {"sent": 250}
