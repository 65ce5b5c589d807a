"""A person at the CLI sees one line saying what is wrong and what to do, never a traceback."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from cli.main import app
from cli.problems import explain
from core.settings import get_settings
from domain.program import ProgramError
from integrations.errors import PermanentError, TransientError


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    return lines[0]


def test_commands_on_a_database_not_migrated_say_to_upgrade(runner, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    get_settings.cache_clear()
    try:
        for command in (["asks", "list"], ["outbox", "list"], ["team", "list"], ["crm", "issues"]):
            result = runner.invoke(app, command)
            assert result.exit_code == 1, command
            assert one_line(result) == (
                f"problem: the database at sqlite:///{tmp_path / 'fresh.db'} is not set up yet: "
                "run `referrals db upgrade`"
            )
    finally:
        get_settings.cache_clear()


def test_a_bad_program_file_is_one_line_naming_the_keys(runner, cli_env):
    program = cli_env / "program.yaml"
    program.write_text(program.read_text().replace("delay_days: 30", "delay_days: -5"))
    result = runner.invoke(app, ["crm", "sync"])
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith("problem: ") and "rewards[0].delay_days: must be >= 0" in line


def test_verbose_shows_the_traceback_instead(runner, cli_env):
    program = cli_env / "program.yaml"
    program.write_text("version: 1\n")
    result = runner.invoke(app, ["--verbose", "crm", "sync"])
    assert result.exit_code == 1 and result.exception is not None
    assert "problem:" not in result.output


def test_vendor_and_database_errors_read_as_what_to_do():
    assert "check HUBSPOT_ACCESS_TOKEN" in explain(
        PermanentError("HubSpot 401 INVALID_AUTHENTICATION: Authentication credentials not found")
    )
    assert "lacks a scope" in explain(PermanentError("HubSpot 403 MISSING_SCOPES: no"))
    assert "try again later" in explain(TransientError("HubSpot unreachable: timeout"))
    program = explain(ProgramError(["a: x", "b: y", "c: z", "d: w"], source="p.yaml"))
    assert program.startswith("p.yaml: a: x; b: y; c: z (and 1 more)")
    refused = OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert explain(refused, "postgresql+psycopg://me:secret@db:5432/app") == (
        "cannot use the database at postgresql+psycopg://me:***@db:5432/app: connection refused"
    )
    assert "--verbose" in explain(KeyError("boom"))


def test_asks_list_says_how_many_more_there_are(runner, cli_env, committed_factory):
    from datetime import UTC, datetime, timedelta

    from domain.signals import SignalKind as K
    from tasks.detect_moments import detect_moments
    from tests.scenario import World

    runner.invoke(app, ["db", "upgrade"])
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    w = World(committed_factory)
    csm = w.csm()
    for i in range(3):
        account = w.account(csm)
        w.person(account)
        w.signal(account, K.NPS, now - timedelta(hours=i + 1), 10)
    from domain.program import load_preset

    detect_moments(committed_factory, load_preset("saas"), now)
    result = runner.invoke(app, ["asks", "list", "--limit", "2"])
    assert result.exit_code == 0
    assert "... and 1 more (raise --limit to see them)" in result.output
