"""Sent, then the answer was lost: the dispatcher asks the vendor before sending again.

The real Slack and HubSpot SDKs talk to local servers that perform the write and then time
out, cut the body, disconnect or answer 5xx. What counts is what the server holds: exactly
one message or task, whatever the number of dispatcher runs and requeues.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from db.engine import transaction
from db.models import OutboxMessage
from db.repositories.outbox import NewMessage
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.deliverers import ChatDeliverer, CrmDeliverer, EmailDeliverer
from integrations.errors import UncertainError
from integrations.hubspot.factory import build_hubspot_crm
from integrations.ports import Deliverer, DeliveryResult, EmailMessage
from integrations.sandbox.email_folder import EmailFolderSender
from integrations.slack.chat import build_slack_chat
from tasks.outbox_dispatch import DispatchPolicy, dispatch_outbox
from tasks.outbox_recovery import requeue_outbox
from tests.factories import chat, email, enqueue_messages
from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.slack_server import FakeSlack

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
MODES = ["timeout", "cut", "disconnect", "5xx"]
QUICK = 0.3  # the client's read timeout; a "timeout" answer is held for a second
RERUNS = [timedelta(0), timedelta(minutes=5), timedelta(hours=1), timedelta(days=1)]
TASKS = "/crm/v3/objects/tasks/batch/create"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_user("casey@vendor.example", user_id=chat(1).recipient)
        yield server


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(now=lambda: T0) as server:
        server.add_property("tasks", "referral_outbox_key", has_unique_value=True)
        yield server


def slack_deliverers(slack: FakeSlack) -> dict[OutboxChannel, Deliverer]:
    notifier = build_slack_chat(slack.token, slack.base_url, sleep=lambda s: None, timeout=QUICK)
    return {OutboxChannel.CHAT: ChatDeliverer(notifier)}


def hubspot_deliverers(hubspot: FakeHubSpot) -> dict[OutboxChannel, Deliverer]:
    crm = build_hubspot_crm(
        hubspot.token, hubspot.base_url, 1000, 100, sleep=lambda s: None, timeout=QUICK
    )
    return {OutboxChannel.CRM: CrmDeliverer(crm)}


def crm_task(n: int) -> NewMessage:
    return NewMessage(
        channel=OutboxChannel.CRM,
        operation="create_task",
        recipient=f"owner-{n}",
        dedupe_key=f"crm-task:ask:{n}",
        payload={
            "subject": f"Ask Ana for an intro ({n})",
            "body": "Script...",
            "due_at": (T0 + timedelta(days=7)).isoformat(),
            "priority": "HIGH",
        },
    )


def rows(factory) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def rerun(factory, deliverers, times=RERUNS) -> None:
    for delay in times:
        dispatch_outbox(factory, deliverers, T0 + delay)


def set_status(factory, status: OutboxStatus) -> None:
    """What earlier versions left behind, or a parking the test does not need to stage."""
    with transaction(factory) as session:
        session.execute(update(OutboxMessage).values(status=status, verify_first=False))


# -- Slack -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_digest_whose_answer_is_lost_is_posted_once(factory, slack, mode):
    deliverers = slack_deliverers(slack)
    enqueue_messages(factory, [chat(1)], T0)
    slack.lose_answer_next("chat.postMessage", mode)

    lost = dispatch_outbox(factory, deliverers, T0)

    [row] = rows(factory)
    assert lost.answer_lost == {"chat": 1} and sum(lost.sent.values()) == 0
    assert (row.status, row.verify_first) == (OutboxStatus.PENDING, True)
    assert row.next_attempt_at > T0 and "answer lost" in (row.last_error or "")

    rerun(factory, deliverers)
    requeue_outbox(factory, deliverers, [row.id], T0 + timedelta(days=1))  # not failed: no-op

    [message] = slack.messages(chat(1).recipient)
    assert len(slack.calls_to("chat.postMessage")) == 1
    [row] = rows(factory)
    assert (row.status, row.verify_first) == (OutboxStatus.SENT, False)
    assert row.provider_id == f"{message['channel']}:{message['ts']}"


def test_only_what_slack_lacks_is_posted_after_lost_answers(factory, slack):
    deliverers = slack_deliverers(slack)
    enqueue_messages(factory, [chat(1)], T0)
    slack.fail_next("chat.postMessage", status=503)  # refused before posting: may look done

    first = dispatch_outbox(factory, deliverers, T0)
    slack.lose_answer_next("chat.postMessage", "timeout")  # this time posted, answer lost
    second = dispatch_outbox(factory, deliverers, T0 + timedelta(hours=1))
    third = dispatch_outbox(factory, deliverers, T0 + timedelta(days=1))

    assert first.answer_lost == second.answer_lost == {"chat": 1}
    assert third.confirmed_after_lost_answer == {"chat": 1}
    assert len(slack.messages(chat(1).recipient)) == 1
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [503, 200]
    assert [r.status for r in rows(factory)] == [OutboxStatus.SENT]


def test_a_failing_check_asks_again_later_and_sends_nothing_meanwhile(factory, slack):
    deliverers = slack_deliverers(slack)
    enqueue_messages(factory, [chat(1)], T0)
    slack.lose_answer_next("chat.postMessage", "cut")
    dispatch_outbox(factory, deliverers, T0)
    slack.fail_next("conversations.history", status=503, times=5)  # every retry of the check

    checking = dispatch_outbox(factory, deliverers, T0 + timedelta(hours=1))

    [row] = rows(factory)
    assert checking.retrying == {"chat": 1} and sum(checking.sent.values()) == 0
    assert (row.status, row.verify_first) == (OutboxStatus.PENDING, True)
    rerun(factory, deliverers, [timedelta(days=1)])
    assert len(slack.messages(chat(1).recipient)) == 1
    assert [r.status for r in rows(factory)] == [OutboxStatus.SENT]


def test_requeueing_a_row_failed_on_an_unreadable_answer_asks_slack_first(factory, slack):
    deliverers = slack_deliverers(slack)
    enqueue_messages(factory, [chat(1)], T0)
    slack.lose_answer_next("chat.postMessage", "cut")
    dispatch_outbox(factory, deliverers, T0)
    set_status(factory, OutboxStatus.FAILED)  # as earlier versions marked it

    report = requeue_outbox(factory, deliverers, [rows(factory)[0].id], T0)
    rerun(factory, deliverers)

    assert report.already_sent == [rows(factory)[0].id] and report.requeued == []
    assert len(slack.messages(chat(1).recipient)) == 1
    assert [r.status for r in rows(factory)] == [OutboxStatus.SENT]


def test_requeueing_an_in_doubt_row_slack_lacks_posts_it_once(factory, slack):
    deliverers = slack_deliverers(slack)
    enqueue_messages(factory, [chat(1)], T0)
    set_status(factory, OutboxStatus.IN_DOUBT)

    report = requeue_outbox(factory, deliverers, [rows(factory)[0].id], T0)
    rerun(factory, deliverers)

    assert len(report.requeued) == 1
    assert len(slack.messages(chat(1).recipient)) == 1
    assert [r.status for r in rows(factory)] == [OutboxStatus.SENT]


# -- HubSpot tasks -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_tasks_whose_create_answer_is_lost_are_created_once(factory, hubspot, mode):
    deliverers = hubspot_deliverers(hubspot)
    enqueue_messages(factory, [crm_task(n) for n in range(3)], T0)
    hubspot.lose_answer_next("POST", TASKS, mode, times=2)

    lost = dispatch_outbox(factory, deliverers, T0)
    rerun(factory, deliverers)
    requeue_outbox(factory, deliverers, [r.id for r in rows(factory)], T0 + timedelta(days=1))

    assert lost.answer_lost == {"crm": 3}
    tasks = hubspot.objects("tasks")
    assert sorted(t["referral_outbox_key"] for t in tasks.values()) == [
        crm_task(n).dedupe_key for n in range(3)
    ]
    sent_keys = [  # each task in exactly one create request: never a blind resend
        item["properties"]["referral_outbox_key"]
        for r in hubspot.requests
        if r.path == TASKS
        for item in r.json["inputs"]
    ]
    assert sorted(sent_keys) == [crm_task(n).dedupe_key for n in range(3)]
    assert {(r.status, r.provider_id in tasks) for r in rows(factory)} == {
        (OutboxStatus.SENT, True)
    }


def test_a_task_refused_before_creating_is_created_after_the_check(factory, hubspot):
    deliverers = hubspot_deliverers(hubspot)
    enqueue_messages(factory, [crm_task(1)], T0)
    hubspot.fail_next("POST", TASKS, 502)  # nothing created, but who can tell

    first = dispatch_outbox(factory, deliverers, T0)
    rerun(factory, deliverers)

    assert first.answer_lost == {"crm": 1}
    assert [r.status for r in hubspot.requests if r.path == TASKS] == [502, 201]
    assert len(hubspot.objects("tasks")) == 1
    assert [r.status for r in rows(factory)] == [OutboxStatus.SENT]


# -- vendors that cannot tell, and the bound on attempts ----------------------------------------


class LosingEmail:
    """Writes the email (or not), then loses the answer; ``blind``: cannot say what it has."""

    def __init__(self, inner: EmailFolderSender, *, deliver: bool, blind: bool) -> None:
        self.inner, self.deliver, self.blind = inner, deliver, blind
        self.losing = True

    def send(self, messages: list[EmailMessage]) -> list[DeliveryResult]:
        if not self.losing:
            return self.inner.send(messages)
        if self.deliver:
            self.inner.send(messages)
        raise UncertainError("answer lost, may have happened: read timed out")

    def find_sent(self, keys):
        return None if self.blind else self.inner.find_sent(keys)


def journal(folder: Path) -> list[str]:
    path = folder / "_journal.log"
    return (
        [line.split(" ", 1)[0] for line in path.read_text().splitlines()] if path.exists() else []
    )


def test_a_person_who_requeues_an_in_doubt_row_gets_it_sent_not_parked_again(factory, tmp_path):
    sender = EmailFolderSender(tmp_path / "outbox", "program@example.com")
    lossy = LosingEmail(sender, deliver=True, blind=True)
    deliverers = {OutboxChannel.EMAIL: EmailDeliverer(lossy)}
    enqueue_messages(factory, [email(1)], T0)

    dispatch_outbox(factory, deliverers, T0)
    parked = dispatch_outbox(factory, deliverers, T0 + timedelta(hours=1))
    assert parked.in_doubt == {"email": 1} and journal(tmp_path / "outbox") == ["written"]

    lossy.losing = False
    report = requeue_outbox(factory, deliverers, [rows(factory)[0].id], T0)
    sent = dispatch_outbox(factory, deliverers, T0 + timedelta(hours=2))

    assert len(report.requeued) == 1 and sent.sent == {"email": 1}
    assert sum(sent.in_doubt.values()) == 0
    assert [r.status for r in rows(factory)] == [OutboxStatus.SENT]


def test_lost_answers_are_bounded_by_max_attempts_and_never_fail_what_arrived(factory, tmp_path):
    sender = EmailFolderSender(tmp_path / "outbox", "program@example.com")
    never = LosingEmail(sender, deliver=False, blind=False)
    deliverers = {OutboxChannel.EMAIL: EmailDeliverer(never)}
    enqueue_messages(factory, [email(1)], T0)
    policy = DispatchPolicy(max_attempts=2)

    for day in range(5):
        dispatch_outbox(factory, deliverers, T0 + timedelta(days=day), policy)

    [row] = rows(factory)
    assert row.status == OutboxStatus.FAILED and "gave up after 2 attempts" in (
        row.last_error or ""
    )
    assert journal(tmp_path / "outbox") == []
