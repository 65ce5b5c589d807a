"""`referrals report`: files written, JSON printed, bad dates refused in one line."""

from __future__ import annotations

import json

from cli.main import app


def test_the_report_is_written_and_printed(runner, cli_env):
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    shown = runner.invoke(app, ["report", "--from", "2026-01-01", "--to", "2026-03-31"])
    assert shown.exit_code == 0, shown.output
    assert "0 asks, 0 intros" in shown.output
    assert (cli_env / "data" / "reports" / "report.json").exists()
    as_json = runner.invoke(app, ["report", "--to", "2026-03-31", "--json"])
    assert json.loads(as_json.output)["period"] == {"from": "2025-03-31", "to": "2026-03-31"}


def test_a_bad_date_is_one_clear_line(runner, cli_env):
    bad = runner.invoke(app, ["report", "--from", "March"])
    assert bad.exit_code == 2 and "must be a date such as 2026-03-01" in bad.output
    backwards = runner.invoke(app, ["report", "--from", "2026-05-01", "--to", "2026-04-01"])
    assert backwards.exit_code == 2 and "must not be after --to" in backwards.output
