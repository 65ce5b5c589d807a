"""One-click unsubscribe (RFC 8058) behind the signed link in every referrer email.

GET only shows a confirmation: mail scanners fetch links, and a fetch must not unsubscribe
anybody. POST unsubscribes at once, with or without the ``List-Unsubscribe=One-Click`` body
and without a CSRF token: mail providers post it from their own servers, and the signed
token in the URL already proves the link came from us.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from tasks.referrals.unsubscribe import email_of, unsubscribe
from web.context import Context, WebContext
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/unsubscribe/{token}")
async def confirm(token: str, request: Request, context: Context) -> Response:
    email = email_of(context.settings, token)
    if email is None:
        return _invalid(context)
    return render(
        "unsubscribe_confirm.html",
        program=context.program,
        masked_email=mask(email),
        action=request.url.path,
    )


@router.post("/unsubscribe/{token}")
async def one_click(token: str, context: Context) -> Response:
    email = email_of(context.settings, token)
    done = email is not None and await run_in_threadpool(
        unsubscribe, context.factory, context.settings, token, context.clock.now()
    )
    if not done or email is None:
        log.info("unsubscribe refused: the token is not ours")
        return _invalid(context)
    log.info("unsubscribe done through the one-click link")
    return render("unsubscribed.html", program=context.program, masked_email=mask(email))


def _invalid(context: WebContext) -> Response:
    """Neutral: a forged, truncated or foreign token; says nothing about any address."""
    return render("unsubscribe_invalid.html", 400, program=context.program)


def mask(email: str) -> str:
    """``ana.lima@acme.com`` -> ``a***@acme.com``: enough to recognise, little to a stranger
    the link was forwarded to."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
