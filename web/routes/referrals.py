"""The referred lead's pages: a referrer's link (``/r/{code}``, also behind its QR code) and
the form where a code is typed by hand (``/refer``). Both end in ``capture_referrals``, the
function every other share path calls too.

Every post goes through the same gates, in order: CSRF token (403, nothing stored), rate
limits (429), the honeypot (the normal thank-you, nothing stored), then validation.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from domain.referral_codes import normalise_code
from domain.referrals.intake import LIMITS, Intake, validate_intake
from domain.statuses import ReferralChannel
from tasks.referrals.capture import CaptureInput, capture_referrals, stable_id
from tasks.referrals.landing import Landing, landing_for_code
from web import csrf, pages
from web.context import Context, WebContext
from web.forms import (
    CODE_LIMIT,
    FORM_FIELDS,
    HONEYPOT,
    LABELS,
    UNKNOWN_CODE,
    FormState,
    attribution,
    honeypot_filled,
    query_string,
    typed_values,
)
from web.rate_limits import check_post, ip_hash
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/r/{code}")
async def landing_page(code: str, request: Request, context: Context) -> Response:
    landing = await run_in_threadpool(landing_for_code, context.factory, context.program, code)
    if landing is None:
        return pages.unknown_code(context)
    return _form_page(request, context, FormState(), landing=landing)


@router.post("/r/{code}")
async def submit_landing(code: str, request: Request, context: Context) -> Response:
    form = await request.form()
    refused = await _gate(request, context, form, normalise_code(code))
    if refused is not None:
        return refused
    landing = await run_in_threadpool(landing_for_code, context.factory, context.program, code)
    if landing is None:
        return pages.unknown_code(context)
    if honeypot_filled(form):
        log.info("landing form: honeypot filled, nothing stored")
        return pages.thanks()
    intake, errors = validate_intake({name: form.get(name) for name in FORM_FIELDS})
    if intake is None:
        state = FormState(typed_values(form, FORM_FIELDS), errors)
        return _form_page(request, context, state, landing=landing, status_code=422)
    qr = request.query_params.get("src") == "qr"
    channel = ReferralChannel.QR if qr else ReferralChannel.LINK
    return await _capture(request, context, landing, intake, channel)


@router.get("/refer")
async def refer_page(request: Request, context: Context) -> Response:
    # A printed code may arrive as /refer?code=...: put it in the field, check it on post.
    state = FormState(typed_values(request.query_params, ("code",)))
    return _form_page(request, context, state)


@router.post("/refer")
async def submit_refer(request: Request, context: Context) -> Response:
    form = await request.form()
    code_text = form.get("code")
    code = normalise_code(code_text) if isinstance(code_text, str) else None
    refused = await _gate(request, context, form, code)
    if refused is not None:
        return refused
    if honeypot_filled(form):
        log.info("code form: honeypot filled, nothing stored")
        return pages.thanks()
    intake, errors = validate_intake({name: form.get(name) for name in FORM_FIELDS})
    landing = None
    if code is not None:
        landing = await run_in_threadpool(landing_for_code, context.factory, context.program, code)
    if landing is None:  # malformed and unknown read the same: no hint whether codes exist
        errors = {"code": UNKNOWN_CODE, **errors}
    state = FormState(typed_values(form, ("code", *FORM_FIELDS)), errors)
    if intake is None or landing is None:
        return _form_page(request, context, state, landing=landing, status_code=422)
    if landing.disclosure and form.get("disclosure_ack") != _ack(landing.disclosure):
        # The program's disclosure must be on the page the person sends: show it first.
        return _form_page(request, context, state, landing=landing, confirm_disclosure=True)
    return await _capture(request, context, landing, intake, ReferralChannel.CODE)


@router.get(pages.THANKS_PATH)
async def thanks_page(context: Context) -> Response:
    return render("thanks.html", program=context.program)


async def _gate(
    request: Request, context: WebContext, form: Any, code: str | None
) -> Response | None:
    """The checks before anything is read or stored; a response when the post is refused."""
    if not csrf.is_valid(context.settings, request, form.get(csrf.FIELD)):
        log.info("form post refused: missing or invalid CSRF token")
        return pages.forbidden(context)
    verdict = await run_in_threadpool(
        check_post,
        context.factory,
        context.settings,
        _client_ip(request),
        code,
        context.clock.now(),
    )
    return None if verdict.allowed else pages.rate_limited(context, verdict)


async def _capture(
    request: Request,
    context: WebContext,
    landing: Landing,
    intake: Intake,
    channel: ReferralChannel,
) -> Response:
    facts = {
        **attribution(request.query_params),
        "ip_hash": ip_hash(context.settings, _client_ip(request)),
    }
    if landing.disclosure:
        facts["disclosure_shown"] = "yes"
    item = CaptureInput(
        channel=channel,
        intake=intake,
        code=landing.code,
        # The same intro sent twice (a double click, a resend) is one referral.
        external_id=stable_id("web", landing.code, intake.contact_email, intake.domain),
        attribution=facts,
    )
    [result] = await run_in_threadpool(
        capture_referrals,
        context.factory,
        context.program,
        context.settings,
        [item],
        context.clock.now(),
    )
    if result.referral_id is None:  # the link was retired between page and post
        return pages.unknown_code(context)
    log.info(
        "referral %s captured (channel %s, new: %s)", result.referral_id, channel, result.created
    )
    return pages.thanks()


def _form_page(
    request: Request,
    context: WebContext,
    state: FormState,
    *,
    landing: Landing | None = None,
    confirm_disclosure: bool = False,
    status_code: int = 200,
) -> Response:
    settings = context.settings
    cookie = csrf.cookie_value(settings, request)
    on_link = request.url.path.startswith("/r/")
    response = render(
        "landing.html" if on_link else "refer.html",
        status_code,
        program=context.program,
        landing=landing,
        state=state,
        action=request.url.path + query_string(request.query_params),
        csrf_field=csrf.FIELD,
        csrf_token=csrf.form_token(settings, cookie),
        honeypot=HONEYPOT,
        labels=LABELS,
        limits={**LIMITS, "code": CODE_LIMIT},
        disclosure_ack=_ack(landing.disclosure) if landing and landing.disclosure else "",
        confirm_disclosure=confirm_disclosure,
        show_code=not on_link,
    )
    csrf.remember(settings, response, cookie)
    return response


def _ack(disclosure: str) -> str:
    """Proof the disclosure the person saw is the one in force (not a secret)."""
    return hashlib.sha256(disclosure.encode()).hexdigest()[:16]


def _client_ip(request: Request) -> str:
    # Behind a reverse proxy uvicorn puts the forwarded address here (--forwarded-allow-ips).
    return request.client.host if request.client else "unknown"
