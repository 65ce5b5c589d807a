"""`referrals slack manifest`: Slack's manifest shape, every URL under the base URL's
/slack/events, and one problem line for a base URL Slack would refuse."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app

BASE = "https://referrals.example.com"
URL = f"{BASE}/slack/events"


def test_the_manifest_has_the_scopes_and_every_url_under_slack_events(runner: CliRunner) -> None:
    result = runner.invoke(app, ["slack", "manifest", "--base-url", BASE + "/"])

    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.output)
    assert set(manifest) == {
        "_metadata",
        "display_information",
        "features",
        "oauth_config",
        "settings",
    }
    assert len(manifest["display_information"]["name"]) <= 35
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {
        "chat:write",
        "users:read",
        "users:read.email",
        "commands",
        "im:write",
    }
    assert manifest["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": URL,
        "message_menu_options_url": URL,
    }
    [command] = manifest["features"]["slash_commands"]
    assert (command["command"], command["url"]) == ("/refer", URL)
    [shortcut] = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("global", "log_intro")
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_json_is_the_same_manifest(runner: CliRunner) -> None:
    as_yaml = runner.invoke(app, ["slack", "manifest", "--base-url", BASE])
    as_json = runner.invoke(app, ["slack", "manifest", "--base-url", BASE, "--json"])

    assert json.loads(as_json.output) == yaml.safe_load(as_yaml.output)


def test_a_local_base_url_is_allowed(runner: CliRunner) -> None:
    result = runner.invoke(app, ["slack", "manifest", "--base-url", "http://127.0.0.1:8000"])

    assert result.exit_code == 0
    assert "http://127.0.0.1:8000/slack/events" in result.output


@pytest.mark.parametrize(
    "base_url",
    ["http://referrals.example.com", "referrals.example.com", "ftp://x.example", f"{BASE}/?a=1"],
)
def test_a_base_url_slack_would_refuse_is_one_problem_line(
    runner: CliRunner, base_url: str
) -> None:
    result = runner.invoke(app, ["slack", "manifest", "--base-url", base_url])

    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("problem: --base-url")
