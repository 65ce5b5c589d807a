from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from domain.program import preset_text
from tasks.context import app_context


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, committed_url: str, tmp_path: Path) -> Iterator[Path]:
    """Point the CLI at the test's own database and data folder."""
    monkeypatch.setenv("DATABASE_URL", committed_url)
    monkeypatch.setenv("REFERRALS_DATA_DIR", str(tmp_path / "data"))
    program = tmp_path / "program.yaml"
    program.write_text(preset_text("saas"), encoding="utf-8")
    monkeypatch.setenv("REFERRALS_PROGRAM_FILE", str(program))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    app_context.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    app_context.cache_clear()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
