"""The demo end to end for a few weeks: the output folder holds the reports, charts, emails,
chat log and payouts, the report's headline is printed last, and the same command works on
PostgreSQL (in the schema `referrals_demo`) when DATABASE_URL points there."""

from __future__ import annotations

import email
import json
from email import policy

import pytest

from cli.main import app
from core.settings import get_settings
from tests.conftest import is_postgres

# The metrics, per month and in total (each defined once in domain/report/metrics.py).
MONTH_METRICS = {
    "asks_sent",
    "asks_sent_per_csm",
    "intros",
    "positive_response_rate",
    "referred_leads",
    "eligible_leads",
    "referral_to_opportunity_rate",
    "pipeline_share",
    "referral",
    "other",
    "funnel",
}


@pytest.fixture
def demo_env(cli_env, monkeypatch):
    monkeypatch.delenv("REFERRALS_PROGRAM_FILE")
    get_settings.cache_clear()
    return cli_env


def test_the_demo_fills_its_output_folder_and_ends_with_the_headline(runner, demo_env):
    out = demo_env / "story"
    result = runner.invoke(
        app, ["demo", "--accounts", "30", "--days", "45", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Program report 2026-"), last
    assert " asks, " in last and "of new pipeline (target 30%)" in last

    report = json.loads((out / "reports" / "report.json").read_text())
    assert set(report["months"]) == {"2026-01", "2026-02"}, report["months"].keys()
    for figures in [*report["months"].values(), report["total"]]:
        assert set(figures) >= MONTH_METRICS, MONTH_METRICS - set(figures)
    assert report["total"]["asks_sent"] > 0
    assert {"close_rate", "median_cycle_days", "average_deal_size"} <= set(
        report["total"]["referral"]
    ), report["total"]["referral"]
    for key in ("top_referrers", "top_csms", "rewards_by_state", "decisions_by_reason"):
        assert key in report
    html = (out / "reports" / "report.html").read_text()
    assert html.count("<svg") == 3 and "<script" not in html
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "funnel.svg",
        "pipeline-share.svg",
        "referrals-vs-other-channels.svg",
    ]
    emails = sorted((out / "outbox").glob("*.eml"))
    assert emails
    message = email.message_from_bytes(emails[0].read_bytes(), policy=policy.default)
    assert message["To"] and message["Subject"]
    posts = [json.loads(line) for line in (out / "chat.log").read_text().splitlines()]
    keys = [post["dedupe_key"] for post in posts]
    assert any(key.startswith("slack-digest:") for key in keys)
    assert any(key.startswith("program-report:") for key in keys)
    assert any(key.startswith("recognition:") for key in keys)
    if is_postgres():
        assert "DATABASE_URL='postgresql" in result.output
        assert "search_path%3Dreferrals_demo" in result.output
        assert not (out / "referrals.db").exists()
    else:
        assert (out / "referrals.db").exists()


def test_the_demo_never_empties_a_folder_it_did_not_make(runner, demo_env):
    mine = demo_env / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("four years of work")
    result = runner.invoke(app, ["demo", "--days", "2", "--accounts", "5", "--out", str(mine)])
    assert result.exit_code == 2
    assert "is not empty and was not made by the demo" in result.output
    assert (mine / "thesis.txt").read_text() == "four years of work"

    made = demo_env / "made"
    first = runner.invoke(app, ["demo", "--days", "2", "--accounts", "5", "--out", str(made)])
    again = runner.invoke(app, ["demo", "--days", "2", "--accounts", "5", "--out", str(made)])
    assert first.exit_code == 0 and again.exit_code == 0, again.output
