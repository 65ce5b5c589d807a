"""Builds the SendGrid adapter from settings-level values, and reads the webhook's key."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import SecretStr
from sendgrid import SendGridAPIClient

from core.secrets import secret_value
from core.settings import Settings
from integrations.sendgrid.mail import SendGridMail
from integrations.sendgrid.transport import OneOpenerClient

DEFAULT_TIMEOUT = 30.0


def build_sendgrid_mail(
    api_key: str,
    base_url: str,
    *,
    default_from: str,
    unsubscribe_group_id: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> SendGridMail:
    """``base_url`` without ``/v3`` (the SDK adds it); ``timeout``: seconds to wait for an
    answer. The SDK has no retries of its own, so the shared policy is the only one."""
    # python-http-client logs every request body and address at DEBUG; our adapter logs ids.
    logging.getLogger("python_http_client").setLevel(logging.WARNING)
    client = SendGridAPIClient(api_key, host=base_url.rstrip("/"))
    # The SDK's own client, with the SDK's headers, sharing one urllib opener (see transport);
    # every request built from it inherits the timeout.
    client.client = OneOpenerClient(
        host=client.host, request_headers=client.client.request_headers, version=3, timeout=timeout
    )
    return SendGridMail(client, default_from, unsubscribe_group_id, sleep=sleep, clock=clock)


def webhook_public_key(settings: Settings) -> str | None:
    """The event webhook's verification key: ``SENDGRID_WEBHOOK_PUBLIC_KEY``, else the Prefect
    Secret block ``SENDGRID_WEBHOOK_KEY_BLOCK`` names; None when neither is set."""
    value = settings.sendgrid_webhook_public_key
    return secret_value(SecretStr(value) if value else None, settings.sendgrid_webhook_key_block)
