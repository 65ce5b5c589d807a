"""Adapters on the wire when an answer is lost: the real SDKs against local servers that perform
the write and then time out, cut the body, disconnect or answer 5xx.

A write whose answer was lost comes back ``uncertain`` and is never retried by the adapter;
reads, 429s and connections that never opened are retried as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.engine import transaction
from db.models import OutboxMessage
from db.repositories.outbox import NewMessage, enqueue
from domain.statuses import OutboxChannel, OutboxStatus
from integrations.deliverers import CrmDeliverer
from integrations.hubspot.crm import HubSpotCrm
from integrations.hubspot.factory import build_hubspot_crm
from integrations.ports import ChatMessage, CrmTask, ReferralPush, program_properties
from integrations.slack.chat import SlackChat, build_slack_chat
from tasks.outbox_dispatch import dispatch_outbox
from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.slack_server import FakeSlack

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
MODES = ["timeout", "cut", "disconnect", "5xx"]
QUICK = 0.3  # the client's read timeout; a "timeout" answer is held for a second
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme*: ask Ana"}}]
TASKS = "/crm/v3/objects/tasks/batch/create"
TASK_READS = "/crm/v3/objects/tasks/batch/read"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(now=lambda: T0) as server:
        server.add_property("tasks", "referral_outbox_key", has_unique_value=True)
        yield server


def slack_chat(slack: FakeSlack, slept: list[float]) -> SlackChat:
    return build_slack_chat(slack.token, slack.base_url, sleep=slept.append, timeout=QUICK)


def hubspot_crm(hubspot: FakeHubSpot, slept: list[float]) -> HubSpotCrm:
    return build_hubspot_crm(
        hubspot.token, hubspot.base_url, 1000, 100, sleep=slept.append, timeout=QUICK
    )


def task(n: int, company_id: str | None = None) -> CrmTask:
    return CrmTask(
        f"crm-task:ask:{n}",
        f"Ask Ana ({n})",
        "Script",
        T0 + timedelta(days=7),
        None,
        company_id,
        None,
    )


def requests_to(hubspot: FakeHubSpot, path: str) -> list[int]:
    return [r.status for r in hubspot.requests if r.path == path]


# -- Slack -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_post_whose_answer_is_lost_is_uncertain_and_not_sent_again(slack, mode):
    user = slack.add_user("casey@vendor.example")
    slack.lose_answer_next("chat.postMessage", mode)
    slept: list[float] = []

    [result] = slack_chat(slack, slept).post([ChatMessage("digest:1", user, "hi", BLOCKS)])

    assert (result.ok, result.transient, result.uncertain) == (False, True, True)
    assert "answer lost" in (result.error or "")
    assert len(slack.messages(user)) == 1 and len(slack.calls_to("chat.postMessage")) == 1
    assert slept == []


@pytest.mark.parametrize("code", ["internal_error", "fatal_error"])
def test_slack_errors_that_may_have_posted_are_uncertain(slack, code):
    user = slack.add_user("casey@vendor.example")
    slack.fail_next("chat.postMessage", error=code)
    [result] = slack_chat(slack, []).post([ChatMessage("digest:1", user, "hi", BLOCKS)])
    assert result.uncertain and len(slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_lost_answer_to_a_history_read_is_retried(slack, mode):
    user = slack.add_user("casey@vendor.example")
    slept: list[float] = []
    chat = slack_chat(slack, slept)
    chat.post([ChatMessage("digest:1", user, "hi", BLOCKS)])
    slack.lose_answer_next("conversations.history", mode)

    found = chat.find_sent([ChatMessage("digest:1", user, "hi", BLOCKS)])

    assert found["digest:1"] and len(slept) == 1
    assert len(slack.calls_to("conversations.history")) == 2


def test_a_refused_connection_is_retried_and_not_uncertain(slack):
    base_url = slack.base_url
    slack.stop()
    slept: list[float] = []
    chat = build_slack_chat(slack.token, base_url, sleep=slept.append, timeout=QUICK)

    [result] = chat.post([ChatMessage("digest:1", "U0CASEY", "hi", BLOCKS)])

    assert (result.transient, result.uncertain) == (True, False)
    assert len(slept) == 4  # five attempts in all: the request never left


# -- HubSpot tasks -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_task_create_whose_answer_is_lost_is_uncertain_and_not_sent_again(hubspot, mode):
    hubspot.lose_answer_next("POST", TASKS, mode)
    slept: list[float] = []

    results = hubspot_crm(hubspot, slept).create_tasks([task(1), task(2)])

    assert [(r.ok, r.transient, r.uncertain) for r in results] == [(False, True, True)] * 2
    assert len(hubspot.objects("tasks")) == 2  # created, once
    assert len(requests_to(hubspot, TASKS)) == 1 and slept == []


@pytest.mark.parametrize("mode", MODES)
def test_a_lost_answer_to_a_task_lookup_is_retried(hubspot, mode):
    slept: list[float] = []
    crm = hubspot_crm(hubspot, slept)
    [created] = crm.create_tasks([task(1)])
    hubspot.lose_answer_next("POST", TASK_READS, mode)

    assert crm.find_tasks([task(1).dedupe_key, task(9).dedupe_key]) == {
        task(1).dedupe_key: created.provider_id,
        task(9).dedupe_key: None,
    }
    assert len(requests_to(hubspot, TASK_READS)) == 2 and len(slept) == 1


def test_a_key_that_already_exists_is_settled_by_reading_it_back(hubspot):
    existing = hubspot.add_task(
        {"hs_timestamp": str(int(T0.timestamp() * 1000)), "referral_outbox_key": task(1).dedupe_key}
    )

    results = hubspot_crm(hubspot, []).create_tasks([task(1), task(2)])

    assert [r.ok for r in results] == [True, True] and results[0].provider_id == existing
    assert len(hubspot.objects("tasks")) == 2
    # Refused as a whole on the unique key (409), then the missing one alone.
    assert requests_to(hubspot, TASKS) == [409, 201]
    assert requests_to(hubspot, TASK_READS) == [207]


def test_a_genuine_refusal_fails_the_tasks_without_a_second_create(hubspot):
    results = hubspot_crm(hubspot, []).create_tasks([task(1, company_id="404404")])
    assert [(r.ok, r.transient, r.uncertain) for r in results] == [(False, False, False)]
    assert "HubSpot 400" in (results[0].error or "")
    assert requests_to(hubspot, TASKS) == [400] and not hubspot.objects("tasks")


def test_a_429_on_a_create_is_retried_it_was_not_performed(hubspot):
    hubspot.fail_next("POST", TASKS, 429, headers={"Retry-After": "2"})
    slept: list[float] = []
    [result] = hubspot_crm(hubspot, slept).create_tasks([task(1)])
    assert result.ok and slept == [2.0]
    assert requests_to(hubspot, TASKS) == [429, 201] and len(hubspot.objects("tasks")) == 1


def test_a_refused_connection_on_a_create_is_retried_and_not_uncertain(hubspot):
    base_url = hubspot.base_url
    hubspot.stop()
    slept: list[float] = []
    crm = build_hubspot_crm(hubspot.token, base_url, 1000, 100, sleep=slept.append, timeout=QUICK)
    [result] = crm.create_tasks([task(1)])
    assert (result.transient, result.uncertain) == (True, False) and len(slept) == 4


# -- HubSpot referral pushes, through the outbox -----------------------------------------------


@pytest.mark.parametrize("lost", ["companies", "contacts", "deals"])
def test_a_referral_push_whose_answer_is_lost_makes_one_company_contact_and_deal(
    hubspot, factory, lost
):
    """Whichever create loses its answer, the dispatcher asks HubSpot for the deal by its
    referral key before pushing again; a new push matches what the lost one created."""
    crm = hubspot_crm(hubspot, [])
    crm.setup(program_properties())
    push = ReferralPush(
        referral_key="link:lost-answer",
        company_name="Prospect Inc",
        company_domain="prospect.example",
        contact_email="buyer@prospect.example",
        contact_first_name="Bo",
        contact_last_name="Buyer",
        contact_title="CFO",
        deal_name="Prospect Inc (referral)",
        pipeline_id="default",
        stage_id="appointmentscheduled",
        referred_by_email="ana@client.example",
        referrer_type="client",
    )
    with transaction(factory) as session:
        enqueue(
            session,
            [
                NewMessage(
                    channel=OutboxChannel.CRM,
                    operation="push_referral",
                    recipient="prospect.example",
                    dedupe_key="crm-push:referral:1",
                    template="referral_push",
                    payload=dict(push.__dict__),
                )
            ],
            T0,
        )
    deliverers = {OutboxChannel.CRM: CrmDeliverer(crm)}
    hubspot.lose_answer_next("POST", f"/crm/v3/objects/{lost}/batch/create", "timeout")

    first = dispatch_outbox(factory, deliverers, T0)
    later = dispatch_outbox(factory, deliverers, T0 + timedelta(days=1))

    assert first.sent.get("crm", 0) == 0
    # The deal was made: HubSpot's answer settles the row. It was not: pushed again.
    settled = later.confirmed_after_lost_answer if lost == "deals" else later.sent
    assert settled.get("crm") == 1
    with factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.status == OutboxStatus.SENT
    deal = next(iter(hubspot.objects("deals")))
    assert row.provider_id.endswith(deal)
    counts = {kind: len(hubspot.objects(kind)) for kind in ("companies", "contacts", "deals")}
    assert counts == {"companies": 1, "contacts": 1, "deals": 1}
