"""`referrals ingest signals`, `config check` and `--at` on hostile input: one clear line each,
the documented exit code, never a traceback."""

from __future__ import annotations

import json

import pytest

from cli.main import app
from domain.program import preset_text


def test_ingest_text_and_json_give_the_same_counts(runner, cli_env):
    runner.invoke(app, ["db", "upgrade"])
    path = cli_env / "signals.csv"
    path.write_text(
        "external_id,kind,account_crm_id,person_email,value,occurred_at\n"
        "s1,nps,100,,9,2026-02-01T00:00:00Z\n"
        "s2,nps,100,ana@,11,2026-02-01T00:00:00Z\n"  # two problems, one row
        "s3,csat,100,,4,0001-01-01T00:00:00+01:00\n"
    )
    text = runner.invoke(app, ["ingest", "signals", str(path)])
    path.write_text(path.read_text().replace("s1,", "s0,"))
    as_json = runner.invoke(app, ["ingest", "signals", str(path), "--json"])

    assert (text.exit_code, as_json.exit_code) == (1, 1)
    assert text.stdout == f"{path}: read 3, new 1, unchanged 0, conflicting 0, rejected 2\n"
    assert text.stderr.splitlines() == [
        f"{path}: line 3, field 'person_email': is not an email address",
        f"{path}: line 3, field 'value': nps needs a whole number from 0 to 10",
        f"{path}: line 4, field 'occurred_at': is outside the supported range (1900-01-01 to "
        "2199-12-31)",
    ]
    report = json.loads(as_json.stdout)
    assert {k: report[k] for k in ("read", "new", "unchanged", "conflicting", "rejected")} == {
        "read": 3,
        "new": 1,
        "unchanged": 0,
        "conflicting": 0,
        "rejected": 2,
    }
    assert report["errors"] == [line.split(": ", 1)[1] for line in text.stderr.splitlines()]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("signals.csv", "ab".encode("utf-16"), "is UTF-16 text; save it as UTF-8"),
        ("signals.xlsx", b"PK", "unsupported file type '.xlsx' (use .csv or .jsonl)"),
    ],
)
def test_ingest_a_file_that_cannot_be_read_exits_2(runner, cli_env, name, content, message):
    runner.invoke(app, ["db", "upgrade"])
    path = cli_env / name
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["ingest", "signals", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"{path}: {message}\n"


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
def test_at_near_the_ends_of_the_calendar_is_a_clear_error(runner, cli_env, at):
    result = runner.invoke(app, ["outbox", "dispatch", "--at", at])
    assert result.exit_code == 2
    assert "is outside the supported range" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def write(path, text: str | bytes):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_config_check_on_a_wrong_type_names_the_key(runner, cli_env):
    text = preset_text("saas").replace(
        "qualifying_stage: first_payment", "qualifying_stage: [first_payment]", 1
    )
    path = write(cli_env / "program.yaml", text)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[0].startswith(
        f"{path}: rewards[0].qualifying_stage: must be one of introduction,"
    )


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        ("caf\xe9: 1\n".encode("latin-1"), 2, "is not UTF-8 text (line 1); save it as UTF-8"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than 50 levels deep"),
        ("version: 1\nname: a\x00b\n", 1, "line 2, column 8: contains a NUL character"),
    ],
)
def test_config_check_on_unreadable_or_hostile_files(runner, cli_env, content, code, message):
    path = write(cli_env / "program.yaml", content)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_config_check_on_a_directory_exits_2(runner, cli_env):
    folder = cli_env / "programs"
    folder.mkdir()
    result = runner.invoke(app, ["config", "check", str(folder), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report == {
        "file": str(folder),
        "valid": False,
        "errors": [f"{folder}: is a directory, not a YAML file"],
    }
