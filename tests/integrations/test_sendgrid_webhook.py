"""SendGrid's signed event webhook: a real ECDSA signature made here with a generated key pair
(P-256 and SHA-256, as SendGrid signs, verified by the SDK's own helper), a wrong one, a
replayed old one; then the events that put addresses on the suppression list."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from db.engine import transaction
from db.models import Suppression
from db.repositories.suppressions import suppress
from integrations.errors import ConfigurationError
from integrations.sendgrid.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SuppressionEvent,
    parse_events,
    verify_signature,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Signer:
    """SendGrid's side: a key pair, the public half shown as SendGrid shows it (base64 DER)."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def sign(self, payload: bytes, at: datetime) -> tuple[str, str]:
        timestamp = str(int(at.timestamp()))
        signature = self.private.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode(), timestamp


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


def events(*items: dict[str, Any]) -> bytes:
    return json.dumps(list(items)).encode()


BODY = events(
    {"email": "Ann@Client.example", "event": "bounce", "type": "bounce", "timestamp": 1772442000,
     "sg_event_id": "ev-1", "sg_message_id": "m-1", "outbox_key": "email:referral:7:thanks",
     "referral_id": "7", "reason": "550 5.1.1 <ann@client.example>: no such user"},
    {"email": "bob@client.example", "event": "delivered", "timestamp": 1772442001},
    {"email": "cy@client.example", "event": "open", "timestamp": 1772442002},
    {"email": "dee@client.example", "event": "click", "timestamp": 1772442003},
    {"email": "eve@client.example", "event": "spamreport", "timestamp": 1772442004,
     "sg_event_id": "ev-5"},
    {"email": "fay@client.example", "event": "unsubscribe", "timestamp": 1772442005},
    {"email": "gus@client.example", "event": "group_unsubscribe", "asm_group_id": 42,
     "timestamp": 1772442006},
    {"email": "hal@client.example", "event": "dropped", "reason": "Bounced Address",
     "timestamp": 1772442007},
    {"email": "ivy@client.example", "event": "bounce", "type": "blocked", "timestamp": 1772442008},
)  # fmt: skip


# -- the signature ------------------------------------------------------------------------------


def test_a_body_signed_by_sendgrid_is_accepted(signer):
    signature, timestamp = signer.sign(BODY, NOW - timedelta(seconds=20))
    assert verify_signature(signer.public_key, BODY, signature, timestamp, NOW)


def test_the_header_names_are_sendgrids():
    assert SIGNATURE_HEADER == "X-Twilio-Email-Event-Webhook-Signature"
    assert TIMESTAMP_HEADER == "X-Twilio-Email-Event-Webhook-Timestamp"


def test_a_signature_from_another_key_is_refused(signer):
    signature, timestamp = Signer().sign(BODY, NOW)
    assert not verify_signature(signer.public_key, BODY, signature, timestamp, NOW)


def test_a_changed_body_or_timestamp_is_refused(signer):
    signature, timestamp = signer.sign(BODY, NOW)
    tampered = BODY.replace(b"spamreport", b"delivered")
    assert not verify_signature(signer.public_key, tampered, signature, timestamp, NOW)
    later = str(int(timestamp) + 1)
    assert not verify_signature(signer.public_key, BODY, signature, later, NOW)


def test_a_replayed_old_delivery_is_refused_even_with_its_valid_signature(signer):
    signature, timestamp = signer.sign(BODY, NOW - timedelta(minutes=6))
    assert not verify_signature(signer.public_key, BODY, signature, timestamp, NOW)
    assert verify_signature(
        signer.public_key, BODY, signature, timestamp, NOW, max_age=timedelta(minutes=10)
    )


def test_a_timestamp_in_the_future_is_refused_beyond_a_small_skew(signer):
    near, near_at = signer.sign(BODY, NOW + timedelta(seconds=30))
    far, far_at = signer.sign(BODY, NOW + timedelta(minutes=10))
    assert verify_signature(signer.public_key, BODY, near, near_at, NOW)
    assert not verify_signature(signer.public_key, BODY, far, far_at, NOW)


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [
        ("not base64!", "GOOD"),
        ("", "GOOD"),
        (base64.b64encode(b"junk").decode(), "GOOD"),
        ("GOOD", "yesterday"),
        ("GOOD", ""),
        ("GOOD", "99999999999999999999"),
    ],
)
def test_malformed_headers_are_refused_not_raised(signer, signature, timestamp):
    good_signature, good_timestamp = signer.sign(BODY, NOW)
    signature = good_signature if signature == "GOOD" else signature
    timestamp = good_timestamp if timestamp == "GOOD" else timestamp
    assert not verify_signature(signer.public_key, BODY, signature, timestamp, NOW)


def test_a_key_pasted_as_a_pem_block_works_too(signer):
    pem = f"-----BEGIN PUBLIC KEY-----\n{signer.public_key}\n-----END PUBLIC KEY-----\n"
    signature, timestamp = signer.sign(BODY, NOW)
    assert verify_signature(pem, BODY, signature, timestamp, NOW)


def test_a_key_that_is_not_an_ec_public_key_is_a_configuration_error(signer):
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signature, timestamp = signer.sign(BODY, NOW)
    for key in ("not a key", base64.b64encode(rsa_der).decode()):
        with pytest.raises(ConfigurationError, match="SENDGRID_WEBHOOK_PUBLIC_KEY"):
            verify_signature(key, BODY, signature, timestamp, NOW)


# -- the events ---------------------------------------------------------------------------------


def test_only_events_that_stop_mail_are_kept_lower_cased_with_their_ids():
    parsed = parse_events(BODY)

    assert [(e.email, e.reason) for e in parsed] == [
        ("ann@client.example", "bounce"),
        ("eve@client.example", "spamreport"),
        ("fay@client.example", "unsubscribe"),
        ("gus@client.example", "group_unsubscribe"),
        ("hal@client.example", "dropped"),
    ]
    first = parsed[0]
    assert first.event_id == "ev-1" and first.occurred_at == NOW and first.source == "sendgrid"
    assert first.details == {
        "sg_event_id": "ev-1",
        "timestamp": NOW.isoformat(),
        "sg_message_id": "m-1",
        "outbox_key": "email:referral:7:thanks",
        "referral_id": "7",
    }  # the bounce text quotes the address: not kept


def test_malformed_items_are_skipped():
    body = events(
        "a string",
        {"event": "bounce"},
        {"email": 12, "event": "bounce"},
        {"email": "no-at-sign", "event": "bounce"},
        {"email": "ok@client.example", "event": ["bounce"]},
        {"email": "ok@client.example", "event": "unsubscribe", "timestamp": "yesterday",
         "sg_event_id": 5},
    )  # fmt: skip
    assert parse_events(body) == [
        SuppressionEvent("ok@client.example", "unsubscribe", event_id=None, occurred_at=None)
    ]


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"[{", "not JSON"),
        (b"", "not JSON"),
        (b'{"event": "bounce"}', "not a JSON array"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_body_that_is_not_an_array_of_events_is_a_clear_value_error(payload, says):
    with pytest.raises(ValueError, match=says):
        parse_events(payload)


def test_an_empty_array_is_no_events():
    assert parse_events(b"[]") == []


# -- the route's work, on the database ----------------------------------------------------------


def test_a_signed_delivery_suppresses_its_addresses_once(factory, signer):
    signature, timestamp = signer.sign(BODY, NOW)
    assert verify_signature(signer.public_key, BODY, signature, timestamp, NOW)

    with transaction(factory) as session:
        first = suppress(session, parse_events(BODY), NOW)
    with transaction(factory) as session:  # SendGrid delivers again after a slow answer
        again = suppress(session, parse_events(BODY), NOW + timedelta(minutes=1))

    assert (first, again) == (5, 0)
    with factory() as session:
        rows = {s.email: s for s in session.scalars(select(Suppression))}
    assert set(rows) == {
        "ann@client.example",
        "eve@client.example",
        "fay@client.example",
        "gus@client.example",
        "hal@client.example",
    }
    ann = rows["ann@client.example"]
    assert (ann.reason, ann.source, ann.created_at) == ("bounce", "sendgrid", NOW)
    assert ann.details["outbox_key"] == "email:referral:7:thanks"
