"""The CLI's access to settings, the database and the clock."""

from __future__ import annotations

from datetime import datetime

import typer

from core.settings import get_settings
from db.engine import session_factory
from domain.clock import SystemClock, parse_instant
from tasks.context import AppContext, app_context


def factory():  # type: ignore[no-untyped-def]
    return session_factory(get_settings().resolved_database_url)


def database_url() -> str:
    return get_settings().resolved_database_url


def instant(at: str | None) -> datetime:
    """``--at`` as an aware UTC datetime, or now."""
    if at is None:
        return SystemClock().now()
    try:
        return parse_instant(at)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--at") from None


def adapters_context() -> AppContext:
    """Settings, database and adapters (a settings problem reaches the person as one line)."""
    return app_context()
