"""Acceptance of the rewards issue through the CLI and Prefect: `referrals run
release-rewards` never releases before the window ends, releases on the first run after it,
with one thank-you, and a rerun changes nothing; the payout reaches finance's queue and
the export; a deal lost inside the window voids its reward."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from db.models import OutboxMessage
from domain.program import load_preset
from tasks.context import app_context
from tests.tasks.reward_world import DAY, DUE, PAID, RewardWorld

pytestmark = pytest.mark.prefect


@pytest.fixture
def cli(flow_env, monkeypatch):
    monkeypatch.chdir(flow_env)
    get_settings.cache_clear()
    app_context.cache_clear()
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def run(cli, at) -> dict[str, int]:
    rows = json.loads(cli("run", "release-rewards", "--at", at.isoformat(), "--json"))
    return {row["step"]: row["count"] for row in rows}


def thank_yous(factory) -> int:
    with factory() as session:
        return session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.template == "reward_released")
        )


def test_release_at_the_window_once_with_one_thank_you_and_a_lost_deal_voids(
    cli, committed_factory, flow_env
):
    rw = RewardWorld(committed_factory, flow_env / "world", load_preset("saas"))
    ana = rw.referrer()
    kept, lost = rw.intro(ana), rw.intro(ana)
    rw.push()
    rw.win(kept, lost)

    run(cli, PAID + DAY)
    rw.deal_moves(lost, "closedlost", PAID + 5 * DAY)
    rw.sync()
    run(cli, DUE - timedelta(seconds=1))
    listed = json.loads(cli("rewards", "list", "--json"))
    assert sorted(r["status"] for r in listed) == ["holding", "voided"]
    assert thank_yous(committed_factory) == 0

    first = run(cli, DUE)
    assert first.get("rewards released") == 1, first
    again = run(cli, DUE + DAY)
    assert "rewards released" not in again, again
    assert thank_yous(committed_factory) == 1
    [released] = json.loads(cli("rewards", "list", "--status", "released", "--json"))
    assert released["released_at"] >= released["release_after"]
    [voided] = json.loads(cli("rewards", "list", "--status", "voided", "--json"))
    ledger = json.loads(cli("rewards", "show", str(voided["id"]), "--json"))["ledger"]
    assert ledger[-1]["entry"] == "voided" and "closed lost" in ledger[-1]["note"]

    cli("run", "dispatch-outbox", "--at", (DUE + DAY).isoformat())
    exported = cli("rewards", "export", str(flow_env / "batch.csv"))
    assert "1 new" in exported, exported


def test_program_report_runs_through_prefect_and_writes_its_files(
    cli, committed_factory, flow_env, monkeypatch
):
    rw = RewardWorld(committed_factory, flow_env / "world", load_preset("saas"))
    referral = rw.intro(rw.referrer())
    rw.push()
    rw.win(referral)
    monkeypatch.setenv("REFERRALS_REPORT_CHANNEL", "C0REPORTS")
    get_settings.cache_clear()
    app_context.cache_clear()
    at = (DUE + DAY).isoformat()
    ran = json.loads(cli("run", "program-report", "--at", at, "--json"))
    assert "1 referred leads (1 eligible)" in ran["headline"], ran
    assert ran["slack_post_enqueued"] == 1 and Path(ran["html"]).exists()
    report = json.loads((flow_env / "reports" / "report.json").read_text())
    assert report["total"]["referral"]["won"] == 1
    again = json.loads(cli("run", "program-report", "--at", at, "--json"))
    assert again["slack_post_enqueued"] == 0  # one post per period, however many runs
    with committed_factory() as session:
        [post] = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "program_report")
        ).all()
    assert post.recipient == "C0REPORTS" and "program report" in post.payload["text"]
