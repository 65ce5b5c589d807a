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
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from core.secrets import secret_value
from core.settings import Settings
from integrations.errors import ConfigurationError
from web.context import WebContext
from web.slack import EVENTS_PATH
from web.slack.listeners import Deps, register
from web.slack.shape import well_formed

log = logging.getLogger(__name__)
WORKERS = 8  # the work after acks
ACK_WORKERS = 16  # acknowledging: quick, and never queued behind slow work


class _Tracked(ThreadPoolExecutor):
    """A pool that knows what it is running."""

    def __init__(self, workers: int, prefix: str) -> None:
        super().__init__(max_workers=workers, thread_name_prefix=prefix)
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

    def pending(self) -> set[Future[object]]:
        with self._guard:
            return set(self._pending)


class BackgroundWork(_Tracked):
    """The work after an ack (Bolt's lazy listeners) in a pool of its own, and the pool
    that acknowledges (listeners, whose rest may run on after the ack), so slow work never
    keeps a request from its answer. Says when both are idle (tests; a shutdown that lets
    the work finish)."""

    def __init__(self, workers: int = WORKERS, ack_workers: int = ACK_WORKERS) -> None:
        super().__init__(workers, "slack-work")
        self.acks = _Tracked(ack_workers, "slack-ack")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is running in either pool, work started by work included."""
        while True:
            pending = self.pending() | self.acks.pending()
            if not pending:
                return True
            _, running = wait(pending, timeout=timeout)
            if running:
                return False


@dataclass(frozen=True)
class SlackActions:
    bolt: App
    work: BackgroundWork
    verifier: SignatureVerifier | None = None  # to tell a signed odd body from a forged one


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
        listener_executor=work.acks,
    )
    # The work after an ack (database, chat.update) gets a pool of its own: slow work
    # there must never keep the next request from being acknowledged within three seconds.
    bolt.listener_runner.lazy_listener_runner = ThreadLazyListenerRunner(
        logger=bolt.logger, executor=work
    )
    register(bolt, Deps(context.factory, context.program, context.settings, context.clock))
    return SlackActions(bolt, work, SignatureVerifier(signing_secret))


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
        if not well_formed(body):
            # Not shaped as Slack sends it: refused before Bolt (which reads the body even
            # before it checks the signature) or a listener could trip over it.
            if not _signed(actions, body, request.headers):
                return Response("invalid request", 401)  # what Bolt answers a forgery
            log.warning("slack: a signed request not shaped as Slack sends it, refused")
            return Response("not a Slack payload", 400)
        # Bolt is synchronous: the dispatch (which returns at the ack) runs off the event loop.
        answer = await run_in_threadpool(actions.bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(answer)

    return router


def _signed(actions: SlackActions, body: bytes, headers: Mapping[str, str]) -> bool:
    if actions.verifier is None:
        return False
    try:
        return actions.verifier.is_valid_request(body, dict(headers))
    except ValueError:  # a timestamp header that is not a number
        return False
