"""prompt-csms: one digest per CSM per run, one CRM task per ask, exactly once; the lifecycle
of an ask (re-surfaced once, then expired; declines; snoozes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from db.engine import transaction
from db.models import Ask, OutboxMessage, SandboxTask, TeamMember
from db.repositories.asks import record_outcome
from domain.program import load_preset
from domain.signals import SignalKind as K
from domain.statuses import AskStatus, OutboxChannel, OutboxStatus
from integrations.deliverers import ChatDeliverer, CrmDeliverer
from integrations.ports import UserLookup
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from tasks.detect_moments import detect_moments
from tasks.prompt_csms import prompt_csms
from tests.scenario import World

PROGRAM = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)  # Monday


class Chat(ChatLogNotifier):
    """The sandbox chat, except that some people are unknown to Slack."""

    def __init__(self, path, unknown: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__(path)
        self.unknown = unknown
        self.lookups: list[str] = []

    def lookup_user_ids(self, emails):
        self.lookups += list(emails)
        found = super().lookup_user_ids(emails)
        return {
            e: UserLookup(None, "Slack users_not_found") if e in self.unknown else found[e]
            for e in emails
        }


def setup(factory, tmp_path, csms: int = 2, asks_each: int = 3, unknown: set[str] = frozenset()):
    w = World(factory)
    for _ in range(csms):
        csm = w.csm()
        for i in range(asks_each):
            account = w.account(csm)
            w.person(account)
            w.signal(account, K.FEEDBACK_POSITIVE, NOW - timedelta(hours=3 + i))
    detect_moments(factory, PROGRAM, NOW)
    chat = Chat(tmp_path / "chat.log", unknown)
    deliverers = {
        OutboxChannel.CHAT: ChatDeliverer(chat),
        OutboxChannel.CRM: CrmDeliverer(SandboxCrm(factory, now=lambda: NOW)),
    }
    return chat, deliverers


def posted(tmp_path) -> list[dict]:
    path = tmp_path / "chat.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_one_digest_per_csm_and_one_crm_task_per_ask_then_nothing_on_rerun(factory, tmp_path):
    chat, deliverers = setup(factory, tmp_path, csms=2, asks_each=3)

    first = prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    second = prompt_csms(factory, PROGRAM, chat, deliverers, NOW + timedelta(minutes=5))

    assert (first.digests, first.crm_tasks, first.asks_prompted) == (2, 6, 6)
    assert first.delivery.sent == {"chat": 2, "crm": 6}
    assert (second.digests, second.crm_tasks, sum(second.delivery.sent.values())) == (0, 0, 0)
    messages = posted(tmp_path)
    assert len(messages) == 2 and len({m["recipient"] for m in messages}) == 2
    assert all(len([b for b in m["blocks"] if b["type"] == "divider"]) == 3 for m in messages)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(SandboxTask)) == 6
        asks = session.scalars(select(Ask)).all()
        tasks = {t.id: t for t in session.scalars(select(SandboxTask))}
    assert all(a.status is AskStatus.PROMPTED and a.crm_task_id in tasks for a in asks)
    task = tasks[asks[0].crm_task_id]
    assert task.company_id and task.contact_id and task.subject.startswith("Ask ")


def test_a_csm_unknown_to_slack_is_reported_and_still_gets_crm_tasks(factory, tmp_path):
    World(factory)  # (ids only)
    chat, deliverers = setup(factory, tmp_path, csms=2, asks_each=1)
    with factory() as session:
        first_csm = session.scalars(select(TeamMember).order_by(TeamMember.id)).first()
    chat.unknown = {first_csm.email}

    report = prompt_csms(factory, PROGRAM, chat, deliverers, NOW)

    assert report.csms_without_slack == [first_csm.id]
    assert (report.digests, report.crm_tasks) == (1, 2)
    with factory() as session:
        member = session.get(TeamMember, first_csm.id)
    assert (member.slack_user_id, member.slack_lookup_error) == (None, "Slack users_not_found")
    prompt_csms(factory, PROGRAM, chat, deliverers, NOW + timedelta(days=1))
    assert chat.lookups.count(first_csm.email) == 1  # cached for a week, not asked daily


def test_overdue_asks_are_resurfaced_once_then_expire(factory, tmp_path):
    chat, deliverers = setup(factory, tmp_path, csms=1, asks_each=1)
    prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    due = timedelta(days=PROGRAM.asks.due_days)

    resurfaced = prompt_csms(factory, PROGRAM, chat, deliverers, NOW + due + timedelta(days=1))
    expired = prompt_csms(factory, PROGRAM, chat, deliverers, NOW + 2 * due + timedelta(days=2))

    assert (resurfaced.resurfaced, resurfaced.digests, resurfaced.crm_tasks) == (1, 1, 0)
    assert (expired.resurfaced, expired.expired, expired.digests) == (0, 1, 0)
    assert len(posted(tmp_path)) == 2
    assert "(reminder)" in json.dumps(posted(tmp_path)[1]["blocks"])


def test_outcomes_close_asks_and_a_decline_starts_the_persons_cooldown(factory, tmp_path):
    chat, deliverers = setup(factory, tmp_path, csms=1, asks_each=2)
    prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    with factory() as session:
        first, second = session.scalars(select(Ask).order_by(Ask.id)).all()
    with transaction(factory) as session:
        assert record_outcome(session, first.id, "declined", "not now", NOW).status is (
            AskStatus.DECLINED
        )
        snoozed = record_outcome(session, second.id, "snoozed", None, NOW)
        assert snoozed.due_at == NOW + timedelta(days=7)
        assert record_outcome(session, first.id, "asked", None, NOW) is None  # closed

    later = NOW + timedelta(days=PROGRAM.guards.account_cooldown_days + 1)
    World(factory).signal(first.account_id, K.RENEWAL_SIGNED, later - timedelta(hours=1))
    report = detect_moments(factory, PROGRAM, later)
    assert report.suppressed == {"no_champion": 1}  # the only person declined: cooling down

    back = prompt_csms(factory, PROGRAM, chat, deliverers, NOW + timedelta(days=8))
    assert back.asks_prompted == 1 and back.crm_tasks == 0  # the snooze ran out; task exists


def test_a_permanent_chat_failure_is_stored_on_the_outbox_row(factory, tmp_path):
    class Rejecting(Chat):
        def post(self, messages):
            from integrations.ports import DeliveryResult

            return [DeliveryResult(m.dedupe_key, error="Slack channel_not_found") for m in messages]

    _, deliverers = setup(factory, tmp_path, csms=1, asks_each=1)
    chat = Rejecting(tmp_path / "chat.log")
    deliverers[OutboxChannel.CHAT] = ChatDeliverer(chat)
    report = prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    assert report.delivery.failed == {"chat": 1} and report.delivery.sent == {"crm": 1}
    with factory() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == OutboxChannel.CHAT)
        ).one()
    assert (row.status, row.last_error, row.attempts) == (
        OutboxStatus.FAILED,
        "Slack channel_not_found",
        1,
    )


def test_a_failing_slack_lookup_loses_no_reminder(factory, tmp_path):
    from integrations.errors import TransientError

    chat, deliverers = setup(factory, tmp_path, csms=1, asks_each=1)
    prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    with factory.begin() as session:  # Slack forgot the CSM: the next run must look up again
        session.query(TeamMember).update({"slack_user_id": None, "slack_checked_at": None})

    class Down(Chat):
        def lookup_user_ids(self, emails):
            raise TransientError("Slack HTTP 503")

    overdue = NOW + timedelta(days=PROGRAM.asks.due_days + 1)
    with pytest.raises(TransientError):
        prompt_csms(factory, PROGRAM, Down(tmp_path / "chat.log"), deliverers, overdue)
    rerun = prompt_csms(factory, PROGRAM, chat, deliverers, overdue + timedelta(minutes=10))
    assert (rerun.resurfaced, rerun.digests) == (1, 1)


def test_a_snoozed_ask_comes_back_with_a_fresh_due_date(factory, tmp_path):
    chat, deliverers = setup(factory, tmp_path, csms=1, asks_each=1)
    prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    with factory() as session:
        ask_id = session.scalars(select(Ask.id)).one()
    with transaction(factory) as session:
        record_outcome(session, ask_id, "snoozed", None, NOW)
    back_on = NOW + timedelta(days=8)
    prompt_csms(factory, PROGRAM, chat, deliverers, back_on)
    next_day = prompt_csms(factory, PROGRAM, chat, deliverers, back_on + timedelta(days=1))
    assert next_day.resurfaced == 0
    with factory() as session:
        ask = session.get(Ask, ask_id)
    assert (ask.status, ask.due_at) == (
        AskStatus.PROMPTED,
        back_on + timedelta(days=PROGRAM.asks.due_days),
    )


def test_an_ask_waiting_for_its_week_is_withdrawn_if_an_escalation_opens(factory, tmp_path):
    chat, deliverers = setup(factory, tmp_path, csms=1, asks_each=1)
    with factory() as session:
        ask = session.scalars(select(Ask)).one()
    World(factory).signal(ask.account_id, K.ESCALATION_OPENED, NOW - timedelta(minutes=30))
    report = prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    assert (report.withdrawn, report.digests, report.crm_tasks) == (1, 0, 0)
    with factory() as session:
        withdrawn = session.get(Ask, ask.id)
    assert withdrawn.status is AskStatus.EXPIRED
    assert withdrawn.outcome_note == "withdrawn: open_escalation"


def test_a_task_completed_before_it_was_linked_still_marks_the_ask_asked(factory, tmp_path):
    from tasks.sync_crm import sync_crm

    chat, deliverers = setup(factory, tmp_path, csms=1, asks_each=1)
    crm = SandboxCrm(factory, now=lambda: NOW + timedelta(hours=2))
    prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    with factory.begin() as session:  # as if delivered by dispatch-outbox after the prompt run
        session.query(Ask).update({"crm_task_id": None})
        task_id = session.scalars(select(SandboxTask.id)).one()
    crm.complete_task(task_id)
    report = sync_crm(factory, crm, PROGRAM, ("tasks",))
    assert report.by_type["tasks"].extra["asks_marked_asked"] == 1


def test_a_csm_found_in_slack_later_gets_the_asks_they_missed_in_a_digest(factory, tmp_path):
    chat, deliverers = setup(factory, tmp_path, csms=1, asks_each=2)
    with factory() as session:
        csm = session.scalars(select(TeamMember)).one()
    chat.unknown = {csm.email}
    first = prompt_csms(factory, PROGRAM, chat, deliverers, NOW)
    assert (first.digests, first.crm_tasks) == (0, 2)

    chat.unknown = set()
    with factory.begin() as session:  # the weekly re-check is due
        session.get(TeamMember, csm.id).slack_checked_at = NOW - timedelta(days=8)
    later = prompt_csms(factory, PROGRAM, chat, deliverers, NOW + timedelta(days=1))
    again = prompt_csms(factory, PROGRAM, chat, deliverers, NOW + timedelta(days=1, hours=1))

    assert (later.digests, later.asks_prompted, later.crm_tasks) == (1, 2, 0)
    assert again.digests == 0
    assert len(posted(tmp_path)) == 1
