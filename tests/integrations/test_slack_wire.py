"""The Slack adapter with the real slack_sdk against a local server speaking Slack's Web API."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from domain.statuses import OutboxChannel, OutboxStatus
from integrations.deliverers import ChatDeliverer
from integrations.ports import ChatMessage
from integrations.slack.chat import build_slack_chat
from tasks.outbox_dispatch import dispatch_outbox
from tests.factories import chat as chat_row
from tests.factories import enqueue_messages
from tests.fakes.slack_server import FakeSlack

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme*: ask Ana"}}]


@pytest.fixture
def slack():
    with FakeSlack() as server:
        yield server


def adapter(slack: FakeSlack, slept: list[float] | None = None):
    return build_slack_chat(
        slack.token, slack.base_url, sleep=slept.append if slept is not None else None
    )


def test_a_digest_is_posted_to_the_csms_dm_with_blocks_and_the_dedupe_key(slack):
    user = slack.add_user("casey@vendor.example")
    [result] = adapter(slack).post([ChatMessage("digest:1", user, "3 asks", BLOCKS)])

    assert result.ok and result.provider_id.startswith("D")
    [call] = slack.calls_to("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {slack.token}"
    assert call.content_type.startswith("application/json")
    assert call.params["channel"] == user and call.params["text"] == "3 asks"
    assert call.params["blocks"] == BLOCKS
    assert call.params["metadata"] == {
        "event_type": "referral_program_message",
        "event_payload": {"dedupe_key": "digest:1"},
    }


def test_users_are_looked_up_by_email_and_unknown_ones_reported(slack):
    user = slack.add_user("casey@vendor.example")
    found = adapter(slack).lookup_user_ids(["casey@vendor.example", "ghost@vendor.example"])
    assert found["casey@vendor.example"].user_id == user
    assert found["ghost@vendor.example"].user_id is None
    assert found["ghost@vendor.example"].error == "Slack users_not_found"
    call = slack.calls_to("users.lookupByEmail")[0]
    assert call.params["email"] == "casey@vendor.example"
    assert call.content_type.startswith("application/x-www-form-urlencoded")


def test_a_429_with_retry_after_1_is_retried_after_at_least_a_second_and_succeeds(slack):
    user = slack.add_user("casey@vendor.example")
    slack.fail_next("chat.postMessage", status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    [result] = adapter(slack).post([ChatMessage("digest:2", user, "hi", BLOCKS)])
    assert time.monotonic() - started >= 1.0
    assert result.ok
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


def test_5xx_on_a_read_is_retried(slack):
    slack.add_user("casey@vendor.example")
    slack.fail_next("users.lookupByEmail", status=503)
    slept: list[float] = []
    found = adapter(slack, slept).lookup_user_ids(["casey@vendor.example"])
    assert found["casey@vendor.example"].user_id and len(slept) == 1


def test_5xx_on_a_post_is_not_retried_it_may_have_been_posted(slack):
    user = slack.add_user("casey@vendor.example")
    slack.fail_next("chat.postMessage", status=503)
    slept: list[float] = []
    [result] = adapter(slack, slept).post([ChatMessage("digest:3", user, "hi", BLOCKS)])
    assert (result.ok, result.transient, result.uncertain) == (False, True, True)
    assert slept == [] and len(slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("error", ["invalid_auth", "channel_not_found"])
def test_slack_errors_are_permanent_and_not_retried(slack, error):
    slack.fail_next("chat.postMessage", error=error)
    [result] = adapter(slack, []).post([ChatMessage("digest:4", "U0NOBODY", "hi", BLOCKS)])
    assert (result.ok, result.transient, result.error) == (False, False, f"Slack {error}")
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_wrong_token_is_invalid_auth_recorded_on_the_outbox_row_without_retry(slack, factory):
    user = slack.add_user("casey@vendor.example")
    enqueue_messages(factory, [chat_row(1)], T0)
    from sqlalchemy import update

    from db.models import OutboxMessage

    with factory.begin() as session:
        session.execute(update(OutboxMessage).values(recipient=user))
    wrong = build_slack_chat("xoxb-wrong", slack.base_url, sleep=lambda s: None)
    report = dispatch_outbox(factory, {OutboxChannel.CHAT: ChatDeliverer(wrong)}, T0)
    later = dispatch_outbox(
        factory, {OutboxChannel.CHAT: ChatDeliverer(wrong)}, datetime(2026, 3, 3, tzinfo=UTC)
    )
    assert report.failed == {"chat": 1} and sum(later.failed.values()) == 0
    with factory() as session:
        row = session.query(OutboxMessage).one()
    assert (row.status, row.last_error, row.attempts) == (
        OutboxStatus.FAILED,
        "Slack invalid_auth",
        1,
    )
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_after_a_crash_slack_is_asked_what_already_arrived(slack):
    user = slack.add_user("casey@vendor.example")
    chat = adapter(slack)
    chat.post([ChatMessage("digest:sent", user, "hi", BLOCKS)])
    found = chat.find_sent(
        [
            ChatMessage("digest:sent", user, "hi", BLOCKS),
            ChatMessage("digest:lost", user, "hi", BLOCKS),
        ]
    )
    assert found["digest:sent"] and found["digest:lost"] is None
    history = slack.calls_to("conversations.history")[0]
    assert history.params["include_all_metadata"] in ("1", "true", True)


def test_find_sent_pages_back_through_the_dm_history(slack):
    user = slack.add_user("casey@vendor.example")
    chat = adapter(slack)
    chat.post([ChatMessage("digest:old", user, "old", BLOCKS)])
    chat.post([ChatMessage(f"other:{n}", user, f"n{n}", BLOCKS) for n in range(250)])
    found = chat.find_sent([ChatMessage("digest:old", user, "old", BLOCKS)])
    assert found["digest:old"]
    assert len(slack.calls_to("conversations.history")) == 2
