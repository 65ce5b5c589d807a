"""`referrals simulate`: the backtest of the program that made a history reproduces it (asks,
refusals by reason, rewards by state and amount), a stricter candidate (no CSAT moments,
smaller credits, a longer hold) moves the figures the expected way, and the real database
is never written to. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

import db.models  # noqa: F401
from cli.main import app
from core.settings import get_settings
from db.base import Base
from db.engine import engine_for, normalise_url
from tasks.context import app_context
from tests.conftest import _copy_database, is_postgres
from tests.simulation.backtest_world import build_history

ACCOUNTS, DAYS = 40, 120


@pytest.fixture(scope="module")
def history(postgres, template_url, tmp_path_factory) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    """One history for the module (building it is the slow part): its database and the
    program file it ran with."""
    folder = tmp_path_factory.mktemp("backtest")
    for url in _copy_database(postgres, template_url, folder):
        program = build_history(url, folder, seed=7, accounts=ACCOUNTS, days=DAYS)
        engine_for(normalise_url(url)).dispose()
        yield url, program


@pytest.fixture
def simulate(history, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    url, _ = history
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REFERRALS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    app_context.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["simulate", *args])

    yield run
    get_settings.cache_clear()
    app_context.cache_clear()


def checksum(url: str) -> str:
    """Every row of every table, in key order: any write would change it."""
    engine = create_engine(normalise_url(url))
    digest = hashlib.sha256()
    try:
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
                digest.update(f"{table.name}:{len(rows)}:{rows!r}".encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def test_the_program_replayed_over_its_own_history_reproduces_it(history, simulate):
    url, program = history
    before = checksum(url)
    result = simulate("--program", str(program), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    current, candidate = out["current"], out["candidate"]

    assert candidate["asks"] == current["asks"]  # created, by trigger, by CSM, by outcome
    assert candidate["referrals"] == current["referrals"]  # by decision and by reason
    assert candidate["rewards"] == current["rewards"]  # by state: count and amount
    assert candidate["messages"] == current["messages"]  # sent, and what would be sent

    # ... and the history is one worth reproducing: every kind of step and decision is in it.
    assert current["asks"]["created"] >= 10
    assert {"asked", "declined", "intro_made"} <= set(current["asks"]["by_outcome"])
    assert {"eligible", "influence_only", "ineligible"} <= set(current["referrals"]["by_decision"])
    assert {"approved_in_review", "rejected_in_review"} & set(current["referrals"]["by_reason"])
    assert {"pending", "released", "voided"} <= set(current["rewards"])
    replayed = out["replayed"]
    assert replayed["ask outcomes replayed"] >= 5
    assert replayed["reviews replayed"] >= 1 and replayed["reward decisions replayed"] >= 1
    assert not any("no " in key or "not in" in key for key in replayed), replayed
    assert out["period"]["days_replayed"] == DAYS
    assert checksum(url) == before


def test_a_stricter_candidate_moves_the_figures_and_changes_nothing_real(
    history, simulate, tmp_path
):
    url, program = history
    text_ = program.read_text(encoding="utf-8")
    stricter = (
        text_.replace(
            "csat: { enabled: true, min_score: 5 }", "csat: { enabled: false, min_score: 5 }"
        )
        .replace("value: { kind: fixed, amount: 500 }", "value: { kind: fixed, amount: 250 }")
        .replace("delay_days: 30", "delay_days: 90")
    )
    assert stricter.count("delay_days: 90") == 2 and "amount: 250" in stricter
    candidate_file = tmp_path / "candidate.yaml"
    candidate_file.write_text(stricter, encoding="utf-8")
    before = checksum(url)

    result = simulate("--program", str(candidate_file), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    current, candidate = out["current"], out["candidate"]

    assert current["asks"]["by_trigger"]["csat"] > 0  # no CSAT moments any more
    assert "csat" not in candidate["asks"]["by_trigger"]
    # referrals are the facts: the same ones, decided by the same eligibility rules
    assert candidate["referrals"] == current["referrals"]

    def total(side: dict[str, Any], state: str | None = None) -> Decimal:
        return sum(
            (Decimal(v["amount"]) for s, v in side["rewards"].items() if state in (None, s)),
            Decimal(0),
        )

    def count(side: dict[str, Any], state: str) -> int:
        return side["rewards"].get(state, {}).get("count", 0)

    assert total(candidate) < total(current)  # smaller client credits
    assert count(candidate, "released") < count(current, "released")  # a longer hold
    assert count(candidate, "awaiting_approval") + count(candidate, "approved") == 0
    assert checksum(url) == before

    # The same, readable: one row per figure with the change.
    shown = simulate("--program", str(candidate_file))
    assert shown.exit_code == 0, shown.output
    assert "Backtest of" in shown.output and "nothing sent" in shown.output
    csat = next(line for line in shown.output.splitlines() if "trigger csat" in line)
    assert csat.split()[-2:] == ["0", f"-{current['asks']['by_trigger']['csat']}"], csat
    assert checksum(url) == before


def test_a_bad_program_file_or_date_is_one_line(history, simulate, tmp_path):
    _, program = history
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        program.read_text(encoding="utf-8").replace("delay_days: 30", "delay_days: -1", 1),
        encoding="utf-8",
    )
    result = simulate("--program", str(broken))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("problem: "), result.output
    assert "rewards[0].delay_days: must be >= 0" in lines[0]
    assert "Traceback" not in result.output

    for args in (["--from", "2026-13-01"], ["--from", "2026-03-02", "--to", "2026-03-01"]):
        result = simulate("--program", str(program), *args)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("problem: --"), result.output


def test_a_period_reports_its_own_days_and_leaves_no_copy_behind(history, simulate):
    url, program = history
    result = simulate("--program", str(program), "--from", "2026-03-01", "--to", "2026-03-31")
    assert result.exit_code == 0, result.output
    out = json.loads(
        simulate(
            "--program", str(program), "--from", "2026-03-01", "--to", "2026-03-31", "--json"
        ).output
    )
    assert out["period"] == {
        "from": "2026-03-01",
        "to": "2026-03-31",
        "replayed_from": "2026-01-05",
        "days_replayed": 86,
    }
    assert out["candidate"]["asks"] == out["current"]["asks"]
    assert out["candidate"]["referrals"] == out["current"]["referrals"]
    # Rewards that are a share of a deal's amount are computed from today's amount (no
    # history of amounts is kept): exact in count and state, and in amount for fixed ones.
    now_rules, new_rules = out["current"]["rewards_by_rule"], out["candidate"]["rewards_by_rule"]
    assert new_rules["client_account_credit"] == now_rules["client_account_credit"]
    assert {s: v["count"] for s, v in new_rules["partner_commission"].items()} == {
        s: v["count"] for s, v in now_rules["partner_commission"].items()
    }
    if is_postgres():
        engine = create_engine(normalise_url(url))
        try:
            with engine.connect() as connection:
                left = connection.scalar(
                    text(
                        "SELECT count(*) FROM information_schema.schemata "
                        "WHERE schema_name LIKE 'referrals_backtest_%'"
                    )
                )
        finally:
            engine.dispose()
        assert left == 0
