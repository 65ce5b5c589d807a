"""What every request handler needs: settings, sessions, the program rules and a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings
from db.engine import session_factory
from domain.clock import Clock, SystemClock
from domain.program import Program
from integrations.sendgrid.factory import webhook_public_key
from tasks.context import load_program_file


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    factory: sessionmaker[Session]
    program: Program
    clock: Clock = field(default_factory=SystemClock)
    sendgrid_webhook_key: str | None = None  # read once: a Secret block lookup is slow


def context_from_settings(settings: Settings | None = None) -> WebContext:
    """Built once per process; a bad program file stops the start with its key paths."""
    settings = settings or get_settings()
    return WebContext(
        settings=settings,
        factory=session_factory(settings.resolved_database_url),
        program=load_program_file(settings),
        sendgrid_webhook_key=webhook_public_key(settings),
    )


def web_context(request: Request) -> WebContext:
    """FastAPI dependency: the app's context."""
    context: WebContext = request.app.state.web
    return context


Context = Annotated[WebContext, Depends(web_context)]
"""A route's parameter type for the app's context."""
