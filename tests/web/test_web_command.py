"""`referrals web`: checks the database and program first, then hands the app to uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from domain.program import preset_text
from tasks.context import app_context


@pytest.fixture
def web_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
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


def test_runs_uvicorn_with_the_app(
    web_env: Path, committed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", committed_url)
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    result = CliRunner().invoke(app, ["web", "--host", "127.0.0.1", "--port", "8123"])
    assert result.exit_code == 0, result.output
    [(target, options)] = calls
    assert isinstance(target, FastAPI)
    assert target.state.web.settings.resolved_database_url == committed_url
    assert options["port"] == 8123 and options["host"] == "127.0.0.1"
    assert options["proxy_headers"] is True


def test_several_workers_each_build_the_app(
    web_env: Path, committed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", committed_url)
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    result = CliRunner().invoke(app, ["web", "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert calls == [
        (
            "web.app:create_app",
            {
                "factory": True,
                "host": "127.0.0.1",
                "port": 8000,
                "workers": 3,
                "proxy_headers": True,
                "forwarded_allow_ips": None,
            },
        )
    ]


def test_an_unmigrated_database_is_one_problem_line(
    web_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{web_env / 'empty.db'}")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    result = CliRunner().invoke(app, ["web"])
    assert result.exit_code == 1
    assert "referrals db upgrade" in result.output
