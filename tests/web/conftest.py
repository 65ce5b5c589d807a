from __future__ import annotations

import base64
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from domain.clock import FixedClock
from domain.program import load_preset
from tests.conftest import T0
from tests.web.site import Stored, add_referrer, context_for, site_settings
from web.app import create_app

with warnings.catch_warnings():  # Starlette nudges towards httpx2; httpx is what we pin
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class WebhookKeys:
    """An ECDSA P-256 pair like the one SendGrid signs its event webhook with; the public
    half as SendGrid shows it (base64 of the DER key)."""

    private: ec.EllipticCurvePrivateKey
    public_b64: str


@dataclass
class Site:
    client: TestClient
    settings: Settings
    factory: sessionmaker[Session]
    clock: FixedClock
    code: str
    stored: Stored
    keys: WebhookKeys

    def other_client(self, ip: str) -> TestClient:
        """A visitor from another address, on the same app."""
        return TestClient(self.client.app, follow_redirects=False, client=(ip, 50000))


MakeSite = Callable[..., Site]


@pytest.fixture(scope="session")
def webhook_keys() -> WebhookKeys:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return WebhookKeys(private, base64.b64encode(der).decode())


@pytest.fixture
def make_site(
    committed_url: str,
    committed_factory: sessionmaker[Session],
    tmp_path: Path,
    webhook_keys: WebhookKeys,
) -> Iterator[MakeSite]:
    """A site on the test's own database: ``make_site(preset="financial", **settings)``."""
    clients: list[TestClient] = []

    def make(preset: str = "saas", webhook_key: str | None = "default", **extra: object) -> Site:
        settings = site_settings(committed_url, tmp_path / "data", **extra)
        clock = FixedClock(T0)
        code = add_referrer(committed_factory, T0, email=f"ana{len(clients)}@acmecorp.example")
        key = webhook_keys.public_b64 if webhook_key == "default" else webhook_key
        context = context_for(settings, committed_factory, load_preset(preset), clock, key)
        client = TestClient(create_app(context), follow_redirects=False, client=("192.0.2.1", 1))
        clients.append(client)
        return Site(
            client,
            settings,
            committed_factory,
            clock,
            code,
            Stored(committed_factory),
            webhook_keys,
        )

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    return make_site()
