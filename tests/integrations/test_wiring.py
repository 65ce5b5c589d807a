"""Adapters are chosen from settings: sandbox by default, a vendor once its token is set."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from core.settings import Settings
from integrations.hubspot.crm import HubSpotCrm
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sendgrid.factory import webhook_public_key
from integrations.sendgrid.mail import SendGridMail
from integrations.slack.chat import SlackChat
from integrations.wiring import build_adapters


def settings(tmp_path, **values) -> Settings:
    return Settings(REFERRALS_DATA_DIR=tmp_path, **values)


def test_without_credentials_everything_is_sandboxed(factory, tmp_path):
    adapters = build_adapters(settings(tmp_path), factory)
    assert isinstance(adapters.crm, SandboxCrm) and isinstance(adapters.chat, ChatLogNotifier)
    assert adapters.names == {
        "crm": "sandbox",
        "email": "eml-folder",
        "chat": "log-file",
        "fulfilment": "finance-queue",
    }


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


def test_a_sendgrid_key_selects_sendgrid_with_its_settings(factory, tmp_path):
    adapters = build_adapters(
        settings(
            tmp_path,
            SENDGRID_API_KEY=SecretStr("SG.x"),
            SENDGRID_API_BASE="http://127.0.0.1:9/",
            SENDGRID_UNSUBSCRIBE_GROUP_ID=42,
            SENDGRID_TIMEOUT_SECONDS=3,
            REFERRALS_EMAIL_FROM="Program <program@example.com>",
        ),
        factory,
    )
    assert isinstance(adapters.email, SendGridMail) and adapters.names["email"] == "sendgrid"
    assert adapters.email.client.host == "http://127.0.0.1:9"  # the SDK adds /v3
    assert adapters.email.client.client.timeout == 3
    assert adapters.email.unsubscribe_group_id == 42
    assert adapters.email.default_from == "Program <program@example.com>"
    assert adapters.email.find_sent(["any"]) is None  # SendGrid cannot tell: rows park
    assert settings(tmp_path).sendgrid_timeout_seconds == 30


def test_a_bad_unsubscribe_group_is_refused_by_name(tmp_path):
    with pytest.raises(ValidationError, match="SENDGRID_UNSUBSCRIBE_GROUP_ID"):
        settings(tmp_path, SENDGRID_UNSUBSCRIBE_GROUP_ID="unsubscribes")


def test_the_webhook_key_comes_from_the_setting_or_nowhere(tmp_path):
    assert webhook_public_key(settings(tmp_path)) is None
    configured = settings(tmp_path, SENDGRID_WEBHOOK_PUBLIC_KEY="MFkwEw...")
    assert webhook_public_key(configured) == "MFkwEw..."


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
