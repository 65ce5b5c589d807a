"""Acceptance of the rewards issue on the demo's own world: after `referrals demo`,
`referrals rewards list --json` shows released rewards and none released before its
window ended; each released one explains itself in its ledger."""

from __future__ import annotations

import json

import pytest

from cli.main import app
from core.settings import get_settings
from tasks.context import app_context
from tests.conftest import is_postgres


@pytest.mark.skipif(is_postgres(), reason="the demo keeps to its own SQLite world")
def test_after_the_demo_rewards_are_released_and_none_early(runner, cli_env, monkeypatch):
    monkeypatch.delenv("REFERRALS_PROGRAM_FILE")
    monkeypatch.delenv("DATABASE_URL")
    get_settings.cache_clear()
    demo = runner.invoke(app, ["demo", "--accounts", "60", "--days", "120"])
    assert demo.exit_code == 0, demo.output
    assert "released before their window ended: 0" in demo.output

    monkeypatch.setenv("REFERRALS_DATA_DIR", str(cli_env / "data" / "demo"))
    get_settings.cache_clear()
    app_context.cache_clear()
    listed = runner.invoke(app, ["rewards", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rewards = json.loads(listed.output)
    released = [r for r in rewards if r["released_at"]]
    assert released, {r["status"] for r in rewards}
    assert all(r["released_at"] >= r["release_after"] for r in released)
    assert all(r["status"] in ("released", "paid", "clawed_back") for r in released)

    shown = runner.invoke(app, ["rewards", "show", str(released[0]["id"]), "--json"])
    assert shown.exit_code == 0, shown.output
    entries = [row["entry"] for row in json.loads(shown.output)["ledger"]]
    assert entries[:3] == ["accrued", "held", "released"] or "approved" in entries, entries
