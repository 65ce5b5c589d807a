"""Test databases: SQLite by default, PostgreSQL when DATABASE_URL names one.

The suite never touches an existing database: on PostgreSQL it creates its own (and drops it
at the end), on SQLite it uses files in a temporary folder. The schema is always built by
running the Alembic migrations, so the migrations are under test too. An unreachable
PostgreSQL fails the run; it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from db.engine import engine_for, normalise_url
from db.migrate import upgrade

REQUESTED_URL = os.environ.get("DATABASE_URL")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def is_postgres() -> bool:
    return bool(REQUESTED_URL) and make_url(normalise_url(REQUESTED_URL)).get_backend_name() == (
        "postgresql"
    )


class _Postgres:
    """Creates and drops scratch databases on the server named by DATABASE_URL."""

    def __init__(self, url: str) -> None:
        self.base = make_url(normalise_url(url))
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        try:
            with self.admin.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # fail loudly: a PostgreSQL run must not pass without it
            raise pytest.UsageError(
                f"DATABASE_URL points at PostgreSQL but it is unreachable: {error}"
            ) from error

    def create(self, name: str, template: str | None = None) -> str:
        clause = f" TEMPLATE {template}" if template else ""
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres() -> Iterator[_Postgres | None]:
    if not is_postgres():
        yield None
        return
    server = _Postgres(REQUESTED_URL or "")
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def template_url(
    postgres: _Postgres | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database that per-test databases are copied from."""
    suffix = uuid.uuid4().hex[:8]
    if postgres is not None:
        name = f"referrals_tmpl_{suffix}"
        url = postgres.create(name)
        upgrade(url)
        engine_for(normalise_url(url)).dispose()
        yield url
        postgres.drop(name)
    else:
        path = tmp_path_factory.mktemp("db") / "template.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        engine_for(url).dispose()  # the last connection to close checkpoints the WAL
        yield url


@pytest.fixture(scope="session")
def shared_url(postgres: _Postgres | None, template_url: str, tmp_path_factory) -> Iterator[str]:
    """The session's main database, for tests that run inside a rolled-back transaction."""
    yield from _copy_database(postgres, template_url, tmp_path_factory.mktemp("shared"))


@pytest.fixture
def factory(shared_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions inside one outer transaction that is rolled back after the test.

    Code under test may commit: with ``create_savepoint`` its commits release savepoints.
    """
    engine = engine_for(normalise_url(shared_url))
    with engine.connect() as connection:
        outer = connection.begin()
        yield sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        outer.rollback()


@pytest.fixture
def committed_url(postgres: _Postgres | None, template_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database of the test's own, for commits across connections/processes."""
    yield from _copy_database(postgres, template_url, tmp_path)


@pytest.fixture
def committed_factory(committed_url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(normalise_url(committed_url)), expire_on_commit=False)


def _copy_database(postgres: _Postgres | None, template_url: str, folder: Path) -> Iterator[str]:
    if postgres is not None:
        name = f"referrals_test_{uuid.uuid4().hex[:10]}"
        template = make_url(template_url).database
        url = postgres.create(name, template=template)
        yield url
        engine_for(normalise_url(url)).dispose()
        postgres.drop(name)
    else:
        path = folder / f"{uuid.uuid4().hex[:8]}.db"
        shutil.copy(make_url(template_url).database or "", path)
        url = f"sqlite:///{path}"
        yield url
        engine_for(url).dispose()


# -- Prefect ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (it takes ~14 s to start), for every
    folder whose tests run flows (tests/flows, tests/faults, ...)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def flow_env(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, committed_url: str, tmp_path: Path
) -> Iterator[Path]:
    from core.settings import get_settings
    from domain.program import preset_text
    from tasks.context import app_context

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
