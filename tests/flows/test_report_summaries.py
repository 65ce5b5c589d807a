"""The uniform summary rows each task report gives its flow's artifact (no Prefect needed)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from domain.crm_records import Rejection
from tasks.crm_apply import SyncCounts
from tasks.detect_moments import MomentReport
from tasks.outbox_report import DispatchReport, GaveUp
from tasks.prompt_csms import PromptReport
from tasks.referrals.track import TrackReport
from tasks.rewards.release import NO_APPROVER, RewardReport
from tasks.summary import (
    COLUMNS,
    MAX_LISTED,
    Failure,
    Summary,
    SummaryRow,
    describe_error,
    failed_records,
    flow_summary,
)
from tasks.sync_crm import SyncReport


def table(summary: Summary) -> dict[str, tuple[int, int, int, int]]:
    rows = summary.table()
    assert all(tuple(row) == COLUMNS for row in rows)
    return {r["part"]: (r["found"], r["created"], r["skipped"], r["failed"]) for r in rows}


def test_failed_records_lists_twenty_then_says_how_many_more() -> None:
    failures = [Failure(f"contact {n}", "email is not a valid address") for n in range(25)]

    listed = failed_records(failures, 25)

    assert listed.count("email is not a valid address") == MAX_LISTED
    assert listed.startswith("contact 0: email is not a valid address; contact 1:")
    assert listed.endswith("contact 19: email is not a valid address; and 5 more")
    assert failed_records([], 3) == "3 records, reasons not kept"
    assert failed_records([Failure("4 rewards", "no approver", 4)], 4) == "4 rewards: no approver"


def test_reasons_never_carry_an_email_address() -> None:
    row = SummaryRow(
        "emails", 1, 0, 0, 1, [Failure("outbox 7", "550 mailbox ana.o'neil+x@mail.client.co.uk")]
    )
    assert row.as_dict()["failed records"] == "outbox 7: 550 mailbox <email>"


def test_a_database_error_is_told_by_the_driver_without_the_statement_or_values() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE people (email TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO people VALUES ('ana@client.example')"))
        with pytest.raises(IntegrityError) as raised:
            connection.execute(text("INSERT INTO people VALUES (:e)"), {"e": "ana@client.example"})

    described = describe_error(raised.value)

    assert described == "IntegrityError: UNIQUE constraint failed: people.email"


def test_sync_counts_written_unchanged_and_quarantined_by_id() -> None:
    companies = SyncCounts(fetched=6, created=2, updated=1, unchanged=1)
    companies.extra["still_quarantined"] = 1
    companies.quarantined.append((Rejection("company", "901", "name is missing", "name"), None))
    report = SyncReport(by_type={"companies": companies})

    [row] = report.summary().table()

    assert row == {
        "part": "companies",
        "found": 6,
        "created": 3,
        "skipped": 2,
        "failed": 1,
        "failed records": "company 901: name is missing",
    }


def test_moments_and_asks() -> None:
    report = MomentReport(
        signals_checked=10,
        not_a_moment=4,
        moments_detected=3,
        duplicate_in_window=1,
        suppressed=Counter({"open_escalation": 2, "churn_risk": 1}),
        asks_created=2,
        waiting_for_capacity=1,
    )
    assert table(report.summary()) == {"moments": (10, 3, 7, 0), "asks": (3, 2, 1, 0)}


def test_prompts_name_csms_without_slack_and_failed_deliveries() -> None:
    delivery = DispatchReport(sent=Counter({"chat": 1, "crm": 2}), failed=Counter({"crm": 1}))
    delivery.gave_up.append(GaveUp("crm", 41, "crm-task:ask:9", "HubSpot said 400: bad owner"))
    report = PromptReport(
        asks_prompted=3, withdrawn=1, digests=1, crm_tasks=3, csms_without_slack=[12]
    )
    report.delivery = delivery

    summary = report.summary()

    assert table(summary) == {
        "asks": (4, 3, 1, 0),
        "digests": (2, 1, 0, 1),
        "CRM tasks": (3, 3, 0, 0),
        "delivery: digests": (1, 1, 0, 0),
        "delivery: CRM tasks": (3, 2, 0, 1),
    }
    records = {r["part"]: r["failed records"] for r in summary.table()}
    assert records["digests"] == "team member 12: no Slack user found for their email"
    assert records["delivery: CRM tasks"] == (
        "outbox 41 (crm-task:ask:9): HubSpot said 400: bad owner"
    )


def test_referrals_decided_pushes_failed_by_referral_and_emails_held() -> None:
    pushes = DispatchReport(sent=Counter({"crm": 1}), failed=Counter({"crm": 1}))
    pushes.gave_up.append(GaveUp("crm", 5, "crm-push:referral:3", "HubSpot said 400: bad stage"))
    report = TrackReport(
        counts=Counter(
            {
                "decided: eligible": 2,
                "decided: duplicate": 1,
                "feedback emails enqueued": 2,
                "feedback not sent (suppressed or no address)": 1,
            }
        ),
        pushes=pushes,
        news=DispatchReport(sent=Counter({"email": 2}), suppressed=Counter({"email": 1})),
    )

    summary = report.summary()

    assert table(summary) == {
        "referrals decided": (3, 3, 0, 0),
        "CRM pushes": (2, 1, 0, 1),
        "referrer emails": (3, 2, 1, 0),
        "Slack notes": (0, 0, 0, 0),
        "delivery: referrer emails": (3, 2, 1, 0),
    }
    pushed = next(r for r in summary.table() if r["part"] == "CRM pushes")
    assert pushed["failed records"] == "outbox 5 (crm-push:referral:3): HubSpot said 400: bad stage"


def test_rewards_steps_emails_and_approvals_nobody_hears_of() -> None:
    report = RewardReport(
        counts=Counter(
            {
                "rewards accrued": 3,
                "rewards held": 2,
                "rewards awaiting_approval": 2,
                NO_APPROVER: 2,
                "rewards released": 1,
                "thank-you emails enqueued": 1,
                "payouts queued for the fulfilment port": 1,
            }
        )
    )

    summary = report.summary()

    assert table(summary) == {
        "rewards accrued": (3, 3, 0, 0),
        "rewards released": (1, 1, 0, 0),
        "rewards held": (2, 2, 0, 0),
        "rewards awaiting_approval": (2, 2, 0, 0),
        "thank-you emails": (1, 1, 0, 0),
        "payouts": (1, 1, 0, 0),
        "approval requests": (2, 0, 0, 2),
    }
    assert summary.table()[-1]["failed records"].startswith("2 rewards: no approver to tell")
    assert table(RewardReport().summary())["rewards released"] == (0, 0, 0, 0)


def test_outbox_rows_in_doubt_count_as_failed_and_retries_wait() -> None:
    report = DispatchReport(
        sent=Counter({"email": 4}),
        retrying=Counter({"email": 2}),
        in_doubt=Counter({"email": 1}),
        lease_lost=Counter({"email": 1}),
    )
    report.gave_up.append(GaveUp("email", 8, "email:referral:2:x", "in doubt: answer lost"))

    assert table(report.summary()) == {"emails": (8, 4, 1, 1)}
    assert report.rows()[0]["in_doubt"] == 1 and "gave_up" not in report.rows()[0]


def test_a_report_created_inside_a_failed_block_is_summarised_with_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published: list[tuple[str, list[dict[str, object]], str]] = []
    monkeypatch.setattr(
        "tasks.summary.publish",
        lambda key, summary, description: published.append((key, summary.table(), description)),
    )
    now = datetime(2026, 3, 2, tzinfo=UTC)

    with pytest.raises(ValueError), flow_summary("detect-moments", "at now", MomentReport):
        report = MomentReport()
        report.signals_checked, report.moments_detected = 1000, 10  # a first batch committed
        raise ValueError(f"bad signal from ana@client.example at {now.isoformat()}")

    [(key, rows, description)] = published
    assert (key, description) == ("detect-moments", "at now (failed)")
    assert [(r["part"], r["found"], r["created"], r["failed"]) for r in rows] == [
        ("moments", 1000, 10, 0),
        ("asks", 0, 0, 0),
        ("run stopped", 0, 0, 1),
    ]
    assert rows[-1]["failed records"] == (
        "ValueError: bad signal from <email> at 2026-03-02T00:00:00+00:00"
    )
