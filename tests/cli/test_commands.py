"""The `referrals` command as a person uses it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect

from cli.main import app
from db.engine import make_engine
from domain.program import PRESETS


def test_db_upgrade_on_an_empty_sqlite_file(runner, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    from core.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["db", "upgrade"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    assert "outbox" in inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.parametrize("preset", PRESETS)
def test_init_writes_a_preset_that_passes_the_check(runner, cli_env, preset):
    path = cli_env / f"{preset}.yaml"
    assert runner.invoke(app, ["init", "--preset", preset, "--path", str(path)]).exit_code == 0
    result = runner.invoke(app, ["config", "check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["valid"] is True


def test_init_refuses_to_overwrite_without_force(runner, cli_env):
    path = cli_env / "program.yaml"
    runner.invoke(app, ["init", "--path", str(path)])
    result = runner.invoke(app, ["init", "--path", str(path)])
    assert result.exit_code == 2 and "--force" in result.output


def test_config_check_names_every_bad_key_by_path(runner, cli_env):
    path = cli_env / "program.yaml"
    runner.invoke(app, ["init", "--preset", "saas", "--path", str(path)])
    text = path.read_text()
    text = text.replace("delay_days: 30", "delay_days: -5", 1)
    text = text.replace("target_pipeline_share: 0.3", "target_pipeline_share: 3", 1)
    path.write_text(text)

    result = runner.invoke(app, ["config", "check", str(path), "--json"])

    assert result.exit_code == 1
    errors = json.loads(result.output)["errors"]
    assert any(e.startswith("rewards[0].delay_days: must be >= 0") for e in errors), errors
    assert any(e.startswith("target_pipeline_share: ") for e in errors), errors


def test_ingest_reports_bad_rows_exits_1_and_keeps_the_good_ones(runner, cli_env):
    runner.invoke(app, ["db", "upgrade"])
    path = cli_env / "signals.csv"
    path.write_text(
        "external_id,kind,account_crm_id,value,occurred_at\n"
        "s1,nps,100,9,2026-02-01T00:00:00Z\n"
        "s2,nps,100,eleven,2026-02-01T00:00:00Z\n"
    )
    first = runner.invoke(app, ["ingest", "signals", str(path), "--json"])
    second = runner.invoke(app, ["ingest", "signals", str(path), "--json"])

    assert first.exit_code == 1
    report = json.loads(first.stdout)
    assert (report["read"], report["new"], report["rejected"]) == (2, 1, 1)
    assert report["errors"] == [
        "line 3, field 'value': is not a number with at most 2 decimals and 12 digits before "
        "the point"
    ]
    assert json.loads(second.stdout)["unchanged"] == 1


def test_outbox_list_and_counts_print_json(runner, cli_env, committed_factory):
    from tests.conftest import T0
    from tests.factories import email, enqueue_messages

    enqueue_messages(committed_factory, [email(1), email(2)], T0)
    listed = json.loads(runner.invoke(app, ["outbox", "list", "--json"]).output)
    assert [row["status"] for row in listed] == ["pending", "pending"]
    dispatched = runner.invoke(app, ["outbox", "dispatch", "--at", T0.isoformat(), "--json"])
    assert json.loads(dispatched.output)[0]["sent"] == 2
    assert json.loads(runner.invoke(app, ["outbox", "counts", "--json"]).output) == {"sent": 2}


def test_run_lists_flows_and_refuses_unknown_ones(runner, cli_env):
    listed = runner.invoke(app, ["run"])
    assert "dispatch-outbox" in listed.output
    unknown = runner.invoke(app, ["run", "no-such-flow"])
    assert unknown.exit_code == 2 and "unknown flow" in unknown.output


def test_bad_at_is_a_clear_error(runner, cli_env):
    result = runner.invoke(app, ["outbox", "dispatch", "--at", "yesterday"])
    assert result.exit_code == 2 and "not an ISO 8601" in result.output


def test_a_sendgrid_key_sends_the_outbox_through_sendgrid(
    runner, cli_env, committed_factory, monkeypatch
):
    from core.settings import get_settings
    from tasks.context import app_context
    from tests.conftest import T0
    from tests.factories import email, enqueue_messages
    from tests.fakes.sendgrid_server import FakeSendGrid

    enqueue_messages(committed_factory, [email(1)], T0)
    with FakeSendGrid() as sendgrid:
        monkeypatch.setenv("SENDGRID_API_KEY", sendgrid.api_key)
        monkeypatch.setenv("SENDGRID_API_BASE", sendgrid.base_url)
        get_settings.cache_clear()
        app_context.cache_clear()
        result = runner.invoke(app, ["outbox", "dispatch", "--at", T0.isoformat(), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["sent"] == 1
    [mail] = sendgrid.mails
    assert mail.recipients == [email(1).recipient]
    assert mail.custom_args == {"outbox_key": email(1).dedupe_key}


def test_crm_setup_and_sync_on_the_sandbox(runner, cli_env):
    runner.invoke(app, ["db", "upgrade"])
    runner.invoke(
        app,
        [
            "book",
            "generate",
            "--accounts",
            "5",
            "--days",
            "10",
            "--signals-out",
            str(cli_env / "s.jsonl"),
            "--team-out",
            str(cli_env / "team.csv"),
        ],
    )
    setup = runner.invoke(app, ["crm", "setup", "--json"])
    assert setup.exit_code == 0
    assert json.loads(setup.output) == {"created": [], "problems": [], "unmapped": []}
    synced = json.loads(runner.invoke(app, ["crm", "sync", "--json"]).output)
    created = {r["object"]: r["created"] for r in synced["objects"]}
    assert (created["owners"], created["companies"]) == (12, 5)
    again = json.loads(runner.invoke(app, ["crm", "sync", "--json"]).output)
    assert sum(r["created"] + r["updated"] for r in again["objects"]) == 0

    listed = json.loads(runner.invoke(app, ["team", "list", "--json"]).output)
    assert len(listed) == 12 and {m["role"] for m in listed} == {None}
    imported = runner.invoke(app, ["team", "import", str(cli_env / "team.csv")])
    assert imported.exit_code == 0, imported.output
    # The twelve owners get their roles; finance's approver, who owns nothing, is added.
    assert "added 1, updated 12, unchanged 0, rejected 0" in imported.output
    again = runner.invoke(app, ["team", "import", str(cli_env / "team.csv")])
    assert "added 0, updated 0, unchanged 13, rejected 0" in again.output
    roles = {m["role"] for m in json.loads(runner.invoke(app, ["team", "list", "--json"]).output)}
    assert roles == {"csm", "rep", "approver"}


def test_crm_setup_names_unknown_stage_ids(runner, cli_env):
    program = cli_env / "program.yaml"
    program.write_text(program.read_text().replace("closedwon:", "closed_won_typo:", 1))
    result = runner.invoke(app, ["crm", "setup"])
    assert result.exit_code == 1
    assert "problem: stage_map.stages.closed_won_typo: pipeline 'default' has no such stage" in (
        result.output
    )
    assert "not mapped: stage 'closedwon' (Closed Won)" in result.output
    assert "add `closedwon: closed_won` under stage_map.stages" in result.output


def test_the_demo_is_repeatable_and_tells_the_same_story_twice(runner, cli_env, monkeypatch):
    monkeypatch.delenv("REFERRALS_PROGRAM_FILE")
    from core.settings import get_settings

    get_settings.cache_clear()
    first = runner.invoke(app, ["demo", "--accounts", "20", "--days", "30"])
    second = runner.invoke(app, ["demo", "--accounts", "20", "--days", "30"])
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert "asks" in first.output and "digests" in first.output
    assert (cli_env / "data" / "demo" / "chat.log").exists()
