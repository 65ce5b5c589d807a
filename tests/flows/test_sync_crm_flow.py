"""The sync-crm flow through Prefect, on the sandbox CRM."""

from __future__ import annotations

import pytest

from flows.registry import run_flow
from simulation.book import generate_book
from tasks.load_book import load_book

pytestmark = pytest.mark.prefect


def test_sync_crm_flow_imports_the_book_once(flow_env, committed_factory):
    book = generate_book(seed=3, accounts=20, days=30)
    load_book(committed_factory, book)

    first = run_flow("sync-crm")
    second = run_flow("sync-crm")

    created = {row["object"]: row["created"] for row in first["objects"]}
    assert created == {
        "owners": len(book.team),
        "companies": 20,
        "contacts": len(book.contacts),
        "deals": len(book.deals),
        "tasks": 0,
    }
    assert sum(row["created"] + row["updated"] for row in second["objects"]) == 0
    assert first["quarantined"] == []


def test_a_flow_that_fails_reaches_the_person_as_one_line(flow_env, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from cli.main import app
    from core.settings import get_settings
    from tasks.context import app_context

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-migrated.db'}")
    get_settings.cache_clear()
    app_context.cache_clear()

    result = CliRunner().invoke(app, ["run", "sync-crm"])

    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"problem: the database at sqlite:///{tmp_path / 'never-migrated.db'} is not set up "
        "yet: run `referrals db upgrade`"
    ]
