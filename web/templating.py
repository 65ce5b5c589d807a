"""Jinja2 pages. Autoescape is on for every template and string: whatever a visitor typed is
shown back as text, never as markup."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """A page; never cached, since forms carry a per-visitor token."""
    body = environment().get_template(template).render(**values)
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response
