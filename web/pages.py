"""Pages several routes answer with: the same words and status wherever they come from."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, RedirectResponse

from web.context import WebContext
from web.rate_limits import Verdict
from web.templating import render

THANKS_PATH = "/thanks"


def unknown_code(context: WebContext) -> HTMLResponse:
    """One page for every link that leads nowhere: never used, mistyped, malformed or
    retired. It names no code, so two such pages are byte for byte the same."""
    return render("unknown_code.html", 404, program=context.program)


def rate_limited(context: WebContext, verdict: Verdict) -> HTMLResponse:
    return render(
        "rate_limited.html",
        429,
        headers={"Retry-After": str(verdict.retry_after)},
        program=context.program,
        minutes=max(1, round(verdict.retry_after / 60)),
    )


def forbidden(context: WebContext) -> HTMLResponse:
    """A post without a valid CSRF token: most often a page left open too long."""
    return render("forbidden.html", 403, program=context.program)


def thanks() -> RedirectResponse:
    """Post/redirect/get: reloading the thank-you page never posts the form again."""
    return RedirectResponse(THANKS_PATH, status_code=303)
