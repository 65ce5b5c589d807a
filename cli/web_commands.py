"""`referrals web`: the public web app (referral landing pages, the code form, one-click
unsubscribe, SendGrid's event webhook) under uvicorn."""

from __future__ import annotations

import typer

from cli.output import fail
from core.settings import get_settings
from db import migrate


def web(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="Server processes (rate limits are counted in the database, so shared)."
    ),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        help="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are trusted "
        "(default: FORWARDED_ALLOW_IPS, else 127.0.0.1).",
    ),
) -> None:
    """Serve the landing pages, /refer, /unsubscribe and /webhooks/sendgrid."""
    import uvicorn

    from web.app import create_app
    from web.context import context_from_settings

    settings = get_settings()
    url = settings.resolved_database_url
    if migrate.current_revision(url) != migrate.head_revision(url):
        raise fail("problem: the database is not up to date: run `referrals db upgrade`")
    # Built here so a bad program file or key is one problem line, before the server starts.
    context = context_from_settings(settings)
    typer.echo(f"serving on http://{host}:{port} (public URL {settings.public_url})")
    uvicorn.run(
        create_app(context) if workers == 1 else "web.app:create_app",
        factory=workers > 1,  # each worker process builds its own app
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )
