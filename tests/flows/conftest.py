from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import get_settings
from domain.program import preset_text
from tasks.context import app_context


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (it takes ~14 s to start)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def flow_env(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, committed_url: str, tmp_path: Path
) -> Iterator[Path]:
    monkeypatch.setenv("DATABASE_URL", committed_url)
    monkeypatch.setenv("REFERRALS_DATA_DIR", str(tmp_path))
    program = tmp_path / "program.yaml"
    program.write_text(preset_text("saas"), encoding="utf-8")
    monkeypatch.setenv("REFERRALS_PROGRAM_FILE", str(program))
    get_settings.cache_clear()
    app_context.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    app_context.cache_clear()
