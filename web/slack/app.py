"""The program's Slack app (Bolt) and its one URL, ``POST /slack/events``, for buttons, modals,
the global shortcut and the ``/refer`` command alike.

Served only when a signing secret is configured (``SLACK_SIGNING_SECRET`` or the Secret block
named by ``SLACK_SIGNING_SECRET_BLOCK``); the bot token is then required as well. Bolt checks
every request's signature (HMAC-SHA256 of ``v0:{timestamp}:{body}``) and refuses a wrong one or
a timestamp more than five minutes away with 401, before any listener runs.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from core.secrets import secret_value
from core.settings import Settings
from integrations.errors import ConfigurationError
from web.context import WebContext
from web.slack import EVENTS_PATH
from web.slack.listeners import Deps, register

log = logging.getLogger(__name__)
WORKERS = 8


class BackgroundWork(ThreadPoolExecutor):
    """Bolt's executor for listeners and lazy listeners, which can say when it is idle (for
    tests, and for a shutdown that lets the work after an ack finish)."""

    def __init__(self, workers: int = WORKERS) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="slack")
        self._pending: set[Future[object]] = set()
        self._guard = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        future = super().submit(fn, *args, **kwargs)
        with self._guard:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[object]) -> None:
        with self._guard:
            self._pending.discard(future)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is running, work started by other work included."""
        while True:
            with self._guard:
                pending = set(self._pending)
            if not pending:
                return True
            _, running = wait(pending, timeout=timeout)
            if running:
                return False


@dataclass(frozen=True)
class SlackActions:
    bolt: App
    work: BackgroundWork


def web_client(settings: Settings, token: str) -> WebClient:
    """Like the chat adapter's: Slack's API base from the settings (tests: the local server)."""
    base = settings.slack_api_base
    return WebClient(
        token=token,
        base_url=base if base.endswith("/") else base + "/",
        timeout=min(settings.slack_timeout_seconds, 10.0),
    )


def build_slack_app(
    context: WebContext, signing_secret: str, token: str, work: BackgroundWork | None = None
) -> SlackActions:
    work = work or BackgroundWork()
    bolt = App(
        name="referral-program",
        signing_secret=signing_secret,
        client=web_client(context.settings, token),
        token_verification_enabled=False,  # auth.test on the first request, not at start
        process_before_response=False,
        listener_executor=work,
    )
    register(bolt, Deps(context.factory, context.program, context.settings, context.clock))
    return SlackActions(bolt, work)


def slack_actions_from(context: WebContext) -> SlackActions | None:
    """The Slack app when a signing secret is configured, else None (the CLI stays the way)."""
    settings = context.settings
    secret = secret_value(settings.slack_signing_secret, settings.slack_signing_secret_block)
    if not secret:
        return None
    token = secret_value(settings.slack_bot_token, settings.slack_secret_block)
    if not token:
        raise ConfigurationError(
            "SLACK_SIGNING_SECRET is set but the bot token is not: set SLACK_BOT_TOKEN "
            "(or SLACK_SECRET_BLOCK) too, or unset the signing secret"
        )
    return build_slack_app(context, secret, token)


def slack_router(actions: SlackActions) -> APIRouter:
    router = APIRouter()

    @router.post(EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # Bolt is synchronous: the dispatch (which returns at the ack) runs off the event loop.
        answer = await run_in_threadpool(actions.bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(answer)

    return router
