"""The web app factory: ``create_app()`` for uvicorn (``referrals web``), or
``create_app(context)`` with a database, program and clock of a test's own."""

from __future__ import annotations

from fastapi import FastAPI

from web.access_log import hide_unsubscribe_tokens
from web.context import WebContext, context_from_settings
from web.middleware import BodyLimit, SecurityHeaders
from web.routes import health, referrals, unsubscribe, webhooks
from web.slack.app import slack_actions_from, slack_router


def create_app(context: WebContext | None = None) -> FastAPI:
    app = FastAPI(
        title="Referral program",
        docs_url=None,  # public pages only: no API explorer on the open internet
        redoc_url=None,
        openapi_url=None,
    )
    app.state.web = context or context_from_settings()
    hide_unsubscribe_tokens()
    for module in (referrals, unsubscribe, webhooks, health):
        app.include_router(module.router)
    app.state.slack = slack_actions_from(app.state.web)  # None unless a signing secret is set
    if app.state.slack is not None:
        app.include_router(slack_router(app.state.slack))
    # Added last runs first: the body cap sees a request before anything reads it.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit)
    return app
