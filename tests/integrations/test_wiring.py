"""Adapters are chosen from settings: sandbox by default, a vendor once its token is set."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.settings import Settings
from integrations.errors import ConfigurationError
from integrations.hubspot.crm import HubSpotCrm
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.slack.chat import SlackChat
from integrations.wiring import build_adapters


def settings(tmp_path, **values) -> Settings:
    return Settings(REFERRALS_DATA_DIR=tmp_path, **values)


def test_without_credentials_everything_is_sandboxed(factory, tmp_path):
    adapters = build_adapters(settings(tmp_path), factory)
    assert isinstance(adapters.crm, SandboxCrm) and isinstance(adapters.chat, ChatLogNotifier)
    assert adapters.names == {"crm": "sandbox", "email": "eml-folder", "chat": "log-file"}


def test_tokens_select_hubspot_and_slack_at_their_configured_bases(factory, tmp_path):
    adapters = build_adapters(
        settings(
            tmp_path,
            HUBSPOT_ACCESS_TOKEN=SecretStr("pat-1"),
            HUBSPOT_API_BASE="http://127.0.0.1:9/",
            SLACK_BOT_TOKEN=SecretStr("xoxb-1"),
            SLACK_API_BASE="http://127.0.0.1:9/api",
        ),
        factory,
    )
    assert isinstance(adapters.crm, HubSpotCrm) and isinstance(adapters.chat, SlackChat)
    assert adapters.chat.client.base_url == "http://127.0.0.1:9/api/"
    assert adapters.names["crm"] == "hubspot" and adapters.names["chat"] == "slack"
    assert "pat-1" not in repr(settings(tmp_path, HUBSPOT_ACCESS_TOKEN=SecretStr("pat-1")))


def test_sendgrid_without_an_adapter_is_a_clear_error(factory, tmp_path):
    with pytest.raises(ConfigurationError, match="SENDGRID_API_KEY is set"):
        build_adapters(settings(tmp_path, SENDGRID_API_KEY=SecretStr("SG.x")), factory)


def test_vendor_timeouts_come_from_settings(factory, tmp_path):
    adapters = build_adapters(
        settings(
            tmp_path,
            HUBSPOT_ACCESS_TOKEN=SecretStr("pat-1"),
            SLACK_BOT_TOKEN=SecretStr("xoxb-1"),
            HUBSPOT_TIMEOUT_SECONDS=7.5,
            SLACK_TIMEOUT_SECONDS=4,
        ),
        factory,
    )
    assert isinstance(adapters.crm, HubSpotCrm) and isinstance(adapters.chat, SlackChat)
    assert adapters.crm.calls.request_timeout == (5.0, 7.5)  # connect, answer
    assert adapters.chat.client.timeout == 4
    defaults = settings(tmp_path)
    assert (defaults.hubspot_timeout_seconds, defaults.slack_timeout_seconds) == (30, 30)
