"""The web app for property suites: one site per test (its own migrated database), shared by
every example of the test, so examples meet what earlier ones stored, as a live site would.

Rate limits are set out of reach here (the security suite tests them); the clock is fixed.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session, sessionmaker

from domain.clock import FixedClock
from domain.program import load_preset
from tests.conftest import T0
from tests.web.conftest import Site, WebhookKeys
from tests.web.site import Stored, add_referrer, context_for, site_settings
from web.app import create_app

with warnings.catch_warnings():  # Starlette nudges towards httpx2; httpx is what we pin
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def new_keys() -> WebhookKeys:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return WebhookKeys(private, base64.b64encode(der).decode())


def sendgrid_headers(keys: WebhookKeys, body: bytes, timestamp: int) -> dict[str, str]:
    """As SendGrid signs its event webhook: ECDSA P-256 over the timestamp then the body."""
    signature = keys.private.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        SIGNATURE: base64.b64encode(signature).decode(),
        TIMESTAMP: str(timestamp),
        "content-type": "application/json",
    }


def build_site(
    url: str, factory: sessionmaker[Session], data_dir: Path, preset: str = "saas", **extra: object
) -> Site:
    settings = site_settings(
        url,
        data_dir,
        REFERRALS_WEB_POSTS_PER_IP=1_000_000,
        REFERRALS_WEB_POSTS_PER_CODE=1_000_000,
        **extra,
    )
    clock = FixedClock(T0)
    code = add_referrer(factory, T0)
    keys = new_keys()
    context = context_for(settings, factory, load_preset(preset), clock, keys.public_b64)
    # raise_server_exceptions: an unhandled exception fails the property, not just a 500
    client = TestClient(create_app(context), follow_redirects=False, client=("192.0.2.1", 1))
    return Site(client, settings, factory, clock, code, Stored(factory), keys)


@pytest.fixture
def web_site(
    committed_url: str, committed_factory: sessionmaker[Session], tmp_path: Path
) -> Iterator[Site]:
    site = build_site(committed_url, committed_factory, tmp_path / "data")
    yield site
    site.client.close()
