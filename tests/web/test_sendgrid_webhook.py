"""SendGrid's signed event webhook, with real ECDSA signatures: a good one, a wrong one and a
replayed old one."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.web.conftest import MakeSite, Site, WebhookKeys

PATH = "/webhooks/sendgrid"
EVENTS = [
    {
        "email": "Bounced@Example.com",
        "event": "bounce",
        "type": "bounce",
        "timestamp": 1770000000,
        "sg_event_id": "ev-1",
    },
    {"email": "dropped@example.com", "event": "dropped", "sg_event_id": "ev-2"},
    {"email": "spam@example.com", "event": "spamreport", "sg_event_id": "ev-3"},
    {"email": "gone@example.com", "event": "unsubscribe", "sg_event_id": "ev-4"},
    {"email": "fine@example.com", "event": "delivered", "sg_event_id": "ev-5"},
    {"email": "opened@example.com", "event": "open", "sg_event_id": "ev-6"},
]


def signed(keys: WebhookKeys, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers as SendGrid sends them: ECDSA over the timestamp followed by the raw body."""
    signature = keys.private.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
        "content-type": "application/json",
    }


def _now(site: Site) -> int:
    return int(site.clock.now().timestamp())


def test_a_signed_delivery_suppresses_what_must_stop_mail(site: Site) -> None:
    body = json.dumps(EVENTS).encode()
    answer = site.client.post(PATH, content=body, headers=signed(site.keys, body, _now(site)))
    assert answer.status_code == 204
    assert site.stored.suppressions() == {
        "bounced@example.com": "bounce",
        "dropped@example.com": "dropped",
        "spam@example.com": "spamreport",
        "gone@example.com": "unsubscribe",
    }
    again = site.client.post(PATH, content=body, headers=signed(site.keys, body, _now(site)))
    assert again.status_code == 204  # SendGrid's retry changes nothing
    assert len(site.stored.suppressions()) == 4


def test_a_wrong_signature_is_401_and_stores_nothing(site: Site) -> None:
    body = json.dumps(EVENTS).encode()
    stranger = WebhookKeys(ec.generate_private_key(ec.SECP256R1()), "")
    for headers in (
        signed(stranger, body, _now(site)),  # another key
        {**signed(site.keys, b"[]", _now(site)), "content-type": "application/json"},  # other body
        {"content-type": "application/json"},  # no signature at all
    ):
        assert site.client.post(PATH, content=body, headers=headers).status_code == 401
    assert site.stored.suppressions() == {}


def test_a_replayed_old_delivery_is_401(site: Site) -> None:
    body = json.dumps(EVENTS).encode()
    old = _now(site) - int(timedelta(minutes=30).total_seconds())
    answer = site.client.post(PATH, content=body, headers=signed(site.keys, body, old))
    assert answer.status_code == 401
    assert site.stored.suppressions() == {}


def test_bad_json_with_a_good_signature_is_400(site: Site) -> None:
    for body in (b"{not json", b'{"event": "bounce"}'):
        answer = site.client.post(PATH, content=body, headers=signed(site.keys, body, _now(site)))
        assert answer.status_code == 400
    assert site.stored.suppressions() == {}


def test_without_a_configured_key_nothing_is_accepted(make_site: MakeSite) -> None:
    site = make_site(webhook_key=None)
    body = json.dumps(EVENTS).encode()
    answer = site.client.post(PATH, content=body, headers=signed(site.keys, body, _now(site)))
    assert answer.status_code == 503
    assert site.stored.suppressions() == {}
