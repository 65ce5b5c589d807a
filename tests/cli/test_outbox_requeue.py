"""`referrals outbox requeue` asks the vendor before anything is sent again (real slack_sdk
against a local Slack that posts and then loses its answer)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from cli.main import app
from db.engine import transaction
from db.models import OutboxMessage
from domain.statuses import OutboxStatus
from tests.conftest import T0
from tests.factories import chat, enqueue_messages
from tests.fakes.slack_server import FakeSlack


@pytest.fixture
def slack(cli_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        for n in (1, 2):
            server.add_user(f"csm{n}@vendor.example", user_id=chat(n).recipient)
        monkeypatch.setenv("SLACK_BOT_TOKEN", server.token)
        monkeypatch.setenv("SLACK_API_BASE", server.base_url)
        monkeypatch.setenv("SLACK_TIMEOUT_SECONDS", "0.3")
        yield server


def dispatch(runner, at: str | None = T0.isoformat()) -> dict[str, object]:
    """One `outbox dispatch` run (``at`` None: now, when a person's requeue is due)."""
    result = runner.invoke(app, ["outbox", "dispatch", "--json", *(["--at", at] if at else [])])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    return rows[0] if rows else {}


def ids_by_key(factory) -> dict[str, int]:
    with factory() as session:
        return {r.dedupe_key: r.id for r in session.scalars(select(OutboxMessage))}


def test_requeue_marks_what_slack_has_as_sent_and_sends_only_the_rest(
    runner, slack, committed_factory
):
    enqueue_messages(committed_factory, [chat(1)], T0)
    slack.lose_answer_next("chat.postMessage", "cut")  # posted, answer unreadable
    assert dispatch(runner)["answer_lost"] == 1
    enqueue_messages(committed_factory, [chat(2)], T0)
    slack.fail_next("chat.postMessage", status=503)  # refused, nothing posted
    assert dispatch(runner)["answer_lost"] == 1
    with transaction(committed_factory) as session:  # as earlier versions left such rows
        session.execute(
            update(OutboxMessage).values(status=OutboxStatus.FAILED, verify_first=False)
        )
    ids = ids_by_key(committed_factory)

    result = runner.invoke(app, ["outbox", "requeue", str(ids["test:chat:1"]), "--json"])
    again = runner.invoke(app, ["outbox", "requeue", str(ids["test:chat:2"]), "--json"])
    dispatch(runner, at=None)
    dispatch(runner, at=None)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["already_sent"] == [ids["test:chat:1"]]
    assert json.loads(again.stdout)["requeued"] == [ids["test:chat:2"]]
    assert len(slack.messages(chat(1).recipient)) == 1
    assert len(slack.messages(chat(2).recipient)) == 1
    with committed_factory() as session:
        statuses = set(session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.SENT}


def test_requeue_leaves_rows_that_are_not_failed_or_in_doubt_alone(
    runner, slack, committed_factory
):
    enqueue_messages(committed_factory, [chat(1)], T0)
    [row_id] = ids_by_key(committed_factory).values()
    result = runner.invoke(app, ["outbox", "requeue", str(row_id)])
    assert result.exit_code == 0, result.output
    assert "requeued 0 of 1" in result.output and f"left alone: [{row_id}]" in result.output
    assert slack.calls == []
