"""Acceptance of the rewards issue on the demo's own world: after `referrals demo`,
`referrals rewards list --json` shows released rewards and none released before its
window ended; each released one explains itself in its ledger; the story's cancelled client
has its paid reward clawed back."""

from __future__ import annotations

import json

from cli.demo import demo_world
from cli.main import app
from core.settings import get_settings
from tasks.context import app_context


def test_after_the_demo_rewards_are_released_and_none_early(runner, cli_env, monkeypatch):
    monkeypatch.delenv("REFERRALS_PROGRAM_FILE")
    get_settings.cache_clear()
    demo = runner.invoke(app, ["demo", "--accounts", "60", "--days", "150"])
    assert demo.exit_code == 0, demo.output
    assert "released before their window ended: 0" in demo.output
    assert "a referred client cancelled after its referrer was paid" in demo.output

    world = demo_world(get_settings(), None).settings
    monkeypatch.setenv("REFERRALS_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("DATABASE_URL", world.database_url or "")
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

    clawed = [r for r in rewards if r["status"] == "clawed_back"]
    assert len(clawed) == 1, [r["status"] for r in rewards]
    shown = runner.invoke(app, ["rewards", "show", str(clawed[0]["id"]), "--json"])
    ledger = json.loads(shown.output)["ledger"]
    assert [row["entry"] for row in ledger][-2:] == ["paid", "clawed_back"], ledger
    assert float(ledger[-1]["amount"]) == -float(clawed[0]["amount"])
