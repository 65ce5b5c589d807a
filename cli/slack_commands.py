"""`referrals slack manifest`: the Slack app's manifest, so an admin creates the app in one
step (api.slack.com/apps > Create New App > From a manifest). Every request URL is the web
app's ``/slack/events``, for buttons, modals, the global shortcut and ``/refer`` alike."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import typer
import yaml

from cli.output import fail
from web.slack import EVENTS_PATH

app = typer.Typer(help="The Slack app: its manifest.", no_args_is_help=True)

# chat:write posts digests and updates them; im:write and im:history open a CSM's DM and read
# it back (was a digest delivered? what does the message hold now?); users:read(.email) find
# CSMs by email; commands serves /refer and the global shortcut.
BOT_SCOPES = ["chat:write", "commands", "im:history", "im:write", "users:read", "users:read.email"]
LOCAL_HOSTS = {"127.0.0.1"}


def base_url_problem(base_url: str) -> str | None:
    """Why ``base_url`` cannot be Slack's request URL base, or None."""
    parts = urlsplit(base_url.strip())
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not (parts.scheme == "https" or local) or not parts.hostname:
        return (
            f"--base-url must be an https:// URL (or http://127.0.0.1 for local tests), "
            f"got {base_url!r}"
        )
    if parts.query or parts.fragment:
        return f"--base-url takes no query or fragment, got {base_url!r}"
    return None


def manifest(base_url: str, name: str = "Referral program") -> dict[str, Any]:
    """Slack's app manifest (https://api.slack.com/reference/manifests) for this program."""
    url = base_url.strip().rstrip("/") + EVENTS_PATH
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Referral asks, intros and reward approvals from Slack.",
            "background_color": "#1d4f91",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": False},
            "shortcuts": [
                {
                    "name": "Log an intro",
                    "type": "global",
                    "callback_id": "log_intro",
                    "description": "Log an intro a client or partner made by email",
                }
            ],
            "slash_commands": [
                {
                    "command": "/refer",
                    "url": url,
                    "description": "Log an intro a client or partner made by email",
                    "should_escape": False,
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            # The referrer picker's options are fetched from the same endpoint.
            "interactivity": {
                "is_enabled": True,
                "request_url": url,
                "message_menu_options_url": url,
            },
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


@app.command("manifest")
def print_manifest(
    base_url: str = typer.Option(
        ..., "--base-url", help="The web app's public URL, e.g. https://referrals.example.com."
    ),
    name: str = typer.Option("Referral program", help="The app's name in Slack (35 at most)."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of YAML."),
) -> None:
    """Print the Slack app manifest: bot scopes, interactivity, /refer and the shortcut."""
    problem = base_url_problem(base_url)
    if problem:
        raise fail(f"problem: {problem}", 2)
    if not name.strip() or len(name) > 35:
        raise fail("problem: --name must be 1 to 35 characters (Slack's limit)", 2)
    document = manifest(base_url, name.strip())
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)
