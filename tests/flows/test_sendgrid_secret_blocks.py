"""SendGrid's API key and its webhook's verification key may live in Prefect Secret blocks."""

from __future__ import annotations

import pytest

from core.settings import Settings
from integrations.sendgrid.factory import webhook_public_key
from integrations.sendgrid.mail import SendGridMail
from integrations.wiring import build_email

pytestmark = pytest.mark.prefect


def test_secret_blocks_supply_the_api_key_and_the_webhook_key(prefect_harness, tmp_path):
    from prefect.blocks.system import Secret

    Secret(value="SG.from-block").save("sendgrid-api-key", overwrite=True)
    Secret(value="MFkwEwYHKoZIzj0CAQYI").save("sendgrid-webhook-key", overwrite=True)
    settings = Settings(
        REFERRALS_DATA_DIR=tmp_path,
        SENDGRID_SECRET_BLOCK="sendgrid-api-key",
        SENDGRID_WEBHOOK_KEY_BLOCK="sendgrid-webhook-key",
    )

    mail, name = build_email(settings)

    assert name == "sendgrid" and isinstance(mail, SendGridMail)
    assert mail.client.api_key == "SG.from-block"
    assert webhook_public_key(settings) == "MFkwEwYHKoZIzj0CAQYI"
