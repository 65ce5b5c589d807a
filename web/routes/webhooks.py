"""SendGrid's signed event webhook: bounces, drops, spam reports and unsubscribes go on the
suppression list, so nothing more is sent to those addresses.

The signature covers the raw body and a timestamp; an old timestamp is a replay (401).
SendGrid retries anything but a 2xx for a day, so the answer is quick: one insert.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from db.engine import transaction
from db.repositories.suppressions import suppress
from integrations.errors import ConfigurationError
from integrations.sendgrid.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SuppressionEvent,
    parse_events,
    verify_signature,
)
from web.context import Context

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request, context: Context) -> Response:
    key = context.sendgrid_webhook_key
    if not key:
        log.error("sendgrid webhook refused: SENDGRID_WEBHOOK_PUBLIC_KEY is not set")
        return PlainTextResponse("the webhook is not configured", 503)
    body = await request.body()
    now = context.clock.now()
    try:
        verified = verify_signature(
            key,
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
            request.headers.get(TIMESTAMP_HEADER, ""),
            now=now,
        )
    except ConfigurationError as error:
        log.error("sendgrid webhook refused: %s", error)
        return PlainTextResponse("the webhook is not configured", 503)
    if not verified:
        log.warning("sendgrid webhook refused: signature not verified or too old")
        return PlainTextResponse("signature not verified", 401)
    try:
        events = parse_events(body)
    except ValueError as error:  # the message names the problem, never the body
        return PlainTextResponse(str(error), 400)
    added = await run_in_threadpool(_suppress, context.factory, events, now)
    log.info("sendgrid webhook: %d suppressing events, %d new suppressions", len(events), added)
    return Response(status_code=204)


def _suppress(factory: sessionmaker[Session], events: list[SuppressionEvent], now: datetime) -> int:
    with transaction(factory) as session:
        return suppress(session, events, now)
