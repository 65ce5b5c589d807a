"""No email address, person's name, referral code or unsubscribe token in the logs or Prefect
artifacts of a whole program.

The demo runs a program over simulated days (``referrals demo --accounts 30 --days 40``) with
every logger of ours at DEBUG; then, on the demo's own database, every flow runs once more
through Prefect (the daily cycle and the program report), and their Prefect logs and
artifacts are read back. Everything the database knows about people (addresses, full names,
codes) is then looked for in all of that text. Messages to people (emails, Slack notes, the
report files) are meant to name them and are not scanned.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

OURS = ("cli", "core", "db", "domain", "flows", "integrations", "simulation", "tasks", "web")
TOKEN = re.compile(r"unsubscribe/[A-Za-z0-9_.:=-]{16,}|xox[bp]-[A-Za-z0-9-]+|SG\.[\w-]{10,}")


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{record.name}: {record.getMessage()}"
        except Exception:  # a record whose arguments do not fit its message: keep both
            line = f"{record.name}: {record.msg} {record.args}"
        self.lines.append(line + (f"\n{record.exc_text}" if record.exc_text else ""))


@pytest.fixture
def captured() -> Iterator[_Everything]:
    # On each of our loggers, not the root: Prefect's logging set-up replaces the root's
    # handlers when a command first runs it.
    handler = _Everything()
    levels = {name: logging.getLogger(name).level for name in OURS}
    for name in OURS:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    for name, level in levels.items():
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(level)


def personal_data(database: Path) -> dict[str, set[str]]:
    """What the demo's database holds about people, by kind."""
    engine = create_engine(f"sqlite:///{database}")
    queries = {
        "email": [
            "SELECT email FROM people",
            "SELECT email FROM team_members",
            "SELECT referred_email FROM referrals",
            "SELECT referrer_email FROM referrals",
        ],
        "name": [
            "SELECT first_name || ' ' || last_name FROM people",
            "SELECT name FROM team_members",
            "SELECT referred_first_name || ' ' || referred_last_name FROM referrals",
        ],
        "code": ["SELECT code FROM referral_links", "SELECT code FROM referrals"],
    }
    found: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for kind, statements in queries.items():
            values = {
                (row[0] or "").strip() for q in statements for row in connection.execute(text(q))
            }
            # Full names only: a first name alone ("May", "Will") is an ordinary word too.
            found[kind] = {v for v in values if len(v) >= 5 and (kind != "name" or " " in v)}
    engine.dispose()
    return found


def leaks(texts: list[str], secrets: dict[str, set[str]]) -> dict[str, list[str]]:
    """Each secret found, by kind, with the start of the line it was found in."""
    found: dict[str, list[str]] = {}
    lowered = [t.lower() for t in texts]
    for kind, values in secrets.items():
        for value in sorted(values):
            needle = value.lower()
            pattern = re.compile(rf"(?<![\w@.]){re.escape(needle)}(?![\w@])")
            hit = next((t for t in lowered if needle in t and pattern.search(t)), None)
            if hit is not None:
                found.setdefault(kind, []).append(f"{value!r} in {hit[:160]!r}")
    tokens = [m.group(0) for t in texts for m in TOKEN.finditer(t)]
    if tokens:
        found["token"] = tokens[:5]
    return found


def prefect_text(since: datetime) -> list[str]:
    """Every log line and artifact (data and description) Prefect stored since ``since``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp

    logs: list[Any] = []
    artifacts: list[Any] = []
    with get_client(sync_client=True) as client:
        window = LogFilter(timestamp=LogFilterTimestamp(after_=since))
        while page := client.read_logs(log_filter=window, limit=200, offset=len(logs)):
            logs += page
        while page := client.read_artifacts(limit=200, offset=len(artifacts)):
            artifacts += page
    lines = [f"prefect log: {log.message}" for log in logs]
    for artifact in artifacts:
        data: Any = artifact.data
        lines.append(
            f"artifact {artifact.key}: {artifact.description or ''} "
            f"{data if isinstance(data, str) else json.dumps(data, default=str)}"
        )
    return lines


def test_a_whole_program_logs_no_personal_data(
    captured: _Everything,
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from cli.main import app
    from core.settings import get_settings
    from flows.registry import run_flow
    from tasks.context import app_context

    out = tmp_path / "demo"
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the demo's own SQLite database
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    app_context.cache_clear()
    demo = CliRunner().invoke(
        app, ["demo", "--accounts", "30", "--days", "40", "--out", str(out)], catch_exceptions=False
    )
    assert demo.exit_code == 0, demo.output

    # The same world through Prefect: its flows once more, the day after the demo ended.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{out / 'referrals.db'}")
    monkeypatch.setenv("REFERRALS_DATA_DIR", str(out))
    monkeypatch.setenv("REFERRALS_PROGRAM_FILE", str(out / "program.yaml"))
    get_settings.cache_clear()
    app_context.cache_clear()
    started = datetime.now(UTC) - timedelta(seconds=5)
    day_after = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(days=41)
    try:
        for name in ("daily-cycle", "program-report"):
            run_flow(name, at=day_after)
        texts = captured.lines + prefect_text(started)
    finally:
        get_settings.cache_clear()
        app_context.cache_clear()

    secrets = personal_data(out / "referrals.db")
    assert all(secrets.values()), {k: len(v) for k, v in secrets.items()}  # the scan has data
    # Both sources were read: our loggers, and Prefect's stored logs and artifacts.
    assert captured.lines and len(texts) > len(captured.lines) + 10, len(texts)
    assert leaks(texts, secrets) == {}


def test_the_scan_finds_what_it_looks_for() -> None:
    secrets = {"email": {"ana.lima@acme.example"}, "name": {"Ana Lima"}, "code": {"7K3M9QX2VB4TN"}}
    found = leaks(
        [
            "tasks.x: sent to Ana.Lima@acme.example",
            "artifact: thanks Ana Lima!",
            "prefect log: link /r/7K3M9QX2VB4TN",
            "web: GET /unsubscribe/eyJhbGciOiJIUzI1NiJ9.abcdefghijklmnop",
            "tasks.y: Banana Limas and xana.lima@acme.examples stay unmatched",
        ],
        secrets,
    )
    assert set(found) == {"email", "name", "code", "token"}
    assert all(len(v) == 1 for v in found.values()), found
