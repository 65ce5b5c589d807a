"""The program-report flow's recognition post through Prefect: off unless a channel is set,
the Prefect Variable `referrals_recognition_channel` wins over REFERRALS_RECOGNITION_CHANNEL,
and the weekly runs of a month post the month before once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core.settings import get_settings
from flows.program_report import program_report_flow
from tasks.context import app_context
from tests.tasks.test_recognition import FIRST_MONDAY_OF_DEC, NOV, Book, posts

pytestmark = pytest.mark.prefect

VARIABLE = "referrals_recognition_channel"


@pytest.fixture
def november(flow_env, committed_factory) -> Iterator[None]:
    book = Book(committed_factory)
    casey = book.member("Casey Ng")
    acme, ana = book.champion("Ana", "Acme", casey)
    book.ask(casey, acme, ana, NOV, intro=True)
    book.referral(ana, NOV)
    yield
    from prefect.variables import Variable

    Variable.unset(VARIABLE)  # the harness's server outlives the test


def env(monkeypatch: pytest.MonkeyPatch, channel: str) -> None:
    monkeypatch.setenv("REFERRALS_RECOGNITION_CHANNEL", channel)
    get_settings.cache_clear()
    app_context.cache_clear()


def run(at: datetime) -> dict[str, object]:
    return program_report_flow(at=at, days=90)


def test_no_channel_no_recognition_post(november, committed_factory):
    ran = run(FIRST_MONDAY_OF_DEC)

    assert ran["recognition"] == "off: no recognition channel set"
    assert ran["recognition_post_enqueued"] == 0
    assert posts(committed_factory) == []


def test_the_environment_sets_the_channel_and_the_month_posts_once(
    november, committed_factory, monkeypatch
):
    env(monkeypatch, "C0ENV")

    first = run(FIRST_MONDAY_OF_DEC)
    next_week = run(FIRST_MONDAY_OF_DEC + timedelta(days=7))

    assert (first["recognition"], first["recognition_post_enqueued"]) == ("2026-11: posted", 1)
    assert next_week["recognition"] == "2026-11: already posted"
    [post] = posts(committed_factory)
    assert post.recipient == "C0ENV" and "Ana (Acme)" in post.payload["text"]
    # What goes to Prefect names nobody.
    assert "Ana" not in str(first) and "Casey" not in str(first)


def test_the_prefect_variable_wins_over_the_environment(november, committed_factory, monkeypatch):
    from prefect.variables import Variable

    env(monkeypatch, "C0ENV")
    Variable.set(VARIABLE, "C0VARIABLE", overwrite=True)

    ran = run(datetime(2026, 12, 1, 8, tzinfo=UTC))

    assert ran["recognition_post_enqueued"] == 1
    [post] = posts(committed_factory)
    assert (post.recipient, post.dedupe_key) == ("C0VARIABLE", "recognition:C0VARIABLE:2026-11")


def test_the_run_publishes_the_uniform_table_and_the_report_as_details(
    november, committed_factory, monkeypatch
):
    from tests.flows.test_flow_summaries import artifact_rows, by_part, run_id

    env(monkeypatch, "C0ENV")
    state = program_report_flow(at=FIRST_MONDAY_OF_DEC, days=90, return_state=True)
    again = program_report_flow(
        at=FIRST_MONDAY_OF_DEC + timedelta(days=7), days=90, return_state=True
    )

    first = by_part(artifact_rows("program-report", run_id(state)))
    assert first["reports (json, md, html)"]["created"] == 1
    assert first["report posts"] == {**first["report posts"], "found": 0, "created": 0}
    assert first["recognition posts"] == {
        **first["recognition posts"],
        "found": 1,
        "created": 1,
        "skipped": 0,
    }
    later = by_part(artifact_rows("program-report", run_id(again)))
    assert later["recognition posts"] == {
        **later["recognition posts"],
        "found": 1,
        "created": 0,
        "skipped": 1,
    }
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        details = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["program-report-details"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id(state)]),
            )
        )
    assert details and details[0].type == "markdown"
    assert "@" not in str(details[0].data)
