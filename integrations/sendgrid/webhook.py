"""SendGrid's signed event webhook: check the signature, keep what must stop future mail.

SendGrid posts a JSON array of events, signed with ECDSA (P-256, SHA-256) over the timestamp
header followed by the raw body; the public key is shown where the signed webhook is switched
on (Settings > Mail Settings > Event Webhook). Bounces, drops, spam reports and unsubscribes
(global or from the unsubscribe group) become suppressions; delivered, open, click and the
rest are ignored, as are items that are not events at all. No web framework here: the web app
mounts the route. Its shape::

    from integrations.sendgrid.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER

    @app.post("/webhooks/sendgrid")
    async def sendgrid_events(request: Request) -> Response:
        body = await request.body()  # the raw bytes: the signature covers them exactly
        if not verify_signature(
            public_key,  # webhook_public_key(settings), once at start-up
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
            request.headers.get(TIMESTAMP_HEADER, ""),
            now=datetime.now(UTC),
        ):
            return Response(status_code=403)
        try:
            events = parse_events(body)
        except ValueError as error:
            return Response(str(error), status_code=400)
        with transaction(factory) as session:
            suppress(session, events, now=datetime.now(UTC))  # db.repositories.suppressions
        return Response(status_code=204)

Answer 2xx quickly: SendGrid retries anything else for a day. ``suppress`` is idempotent (an
address keeps its first reason), so a retried delivery changes nothing.
"""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from integrations.errors import ConfigurationError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE  # X-Twilio-Email-Event-Webhook-Signature
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP  # X-Twilio-Email-Event-Webhook-Timestamp
MAX_AGE = timedelta(minutes=5)
# A sender's clock a little ahead of ours is not an attack; a day ahead is a replay in waiting.
FUTURE_SKEW = timedelta(minutes=1)
SUPPRESSING = frozenset({"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"})
SOURCE = "sendgrid"
# Our custom args that come back on each event (see integrations/sendgrid/mail.py).
TRACED_ARGS = ("outbox_key", "referral_id")
EMAIL_LIMIT = 320  # suppressions.email
ID_LIMIT = 500  # SendGrid's ids are far shorter; a longer one is not one of theirs


@dataclass(frozen=True)
class SuppressionEvent:
    """An event that puts an address on the suppression list (``suppress`` takes it as is)."""

    email: str  # lower-cased
    reason: str  # bounce | dropped | spamreport | unsubscribe | group_unsubscribe
    event_id: str | None  # SendGrid's sg_event_id
    occurred_at: datetime | None
    extra: Mapping[str, str] = field(default_factory=dict)  # message id, outbox key...

    source = SOURCE

    @property
    def details(self) -> dict[str, Any]:
        """What is stored with the suppression: ids and time, never the bounce text."""
        at = self.occurred_at.isoformat() if self.occurred_at else None
        return {"sg_event_id": self.event_id, "timestamp": at, **self.extra}


_NOT_A_KEY = (
    "SENDGRID_WEBHOOK_PUBLIC_KEY is not the event webhook's verification key "
    "(an EC public key, base64)"
)


def _public_key(public_key: str) -> ec.EllipticCurvePublicKey:
    """The configured key, as SendGrid shows it (base64) or as a full PEM block."""
    body = "".join(
        line.strip() for line in public_key.strip().splitlines() if "PUBLIC KEY" not in line
    )
    try:
        key = EventWebhook().convert_public_key_to_ecdsa(body)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ConfigurationError(f"{_NOT_A_KEY}: {error}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigurationError(f"{_NOT_A_KEY}: it is a {type(key).__name__}")
    return key


def verify_signature(
    public_key: str,
    payload: bytes,
    signature: str,
    timestamp: str,
    now: datetime,
    max_age: timedelta = MAX_AGE,
) -> bool:
    """True when SendGrid signed exactly this body at ``timestamp`` (epoch seconds), and that
    was at most ``max_age`` ago (an older, replayed delivery is refused) and not in the future
    beyond a minute. A key that cannot be read raises ConfigurationError: that is the
    installation's problem, not the request's."""
    key = _public_key(public_key)
    try:
        signed_at = datetime.fromtimestamp(int(timestamp.strip()), UTC)
    except (ValueError, OverflowError, OSError):
        return False
    if now - signed_at > max_age or signed_at - now > FUTURE_SKEW:
        log.warning("sendgrid webhook: timestamp outside the accepted window, refused")
        return False
    try:
        text = payload.decode("utf-8")  # the SDK signs str; SendGrid sends UTF-8 JSON
        return bool(EventWebhook().verify_signature(text, signature, timestamp, key))
    except (UnicodeDecodeError, binascii.Error, ValueError, InvalidSignature):
        return False


def parse_events(payload: bytes) -> list[SuppressionEvent]:
    """The suppressing events of a webhook body, in order; other or malformed items are
    skipped. A body that is not a JSON array raises ValueError with a clear message."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("the webhook body is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"the webhook body is not JSON: {error.msg} at {error.pos}") from None
    except ValueError:  # an integer of more than 4300 digits
        raise ValueError("the webhook body is not JSON: a number has too many digits") from None
    except RecursionError:  # arrays nested past Python's stack: an answer, not a crash
        raise ValueError("the webhook body is not JSON: nested too deeply") from None
    if not isinstance(data, list):
        raise ValueError("the webhook body is not a JSON array of events")
    events = [event for item in data if (event := _event(item)) is not None]
    skipped = len(data) - len(events)
    log.info("sendgrid webhook: %d suppressing events, %d others", len(events), skipped)
    return events


def _event(item: Any) -> SuppressionEvent | None:
    if not isinstance(item, dict):
        return None
    kind, email = item.get("event"), item.get("email")
    if not isinstance(kind, str) or kind not in SUPPRESSING:
        return None
    if not isinstance(email, str) or "@" not in email:
        return None
    address = email.strip().lower()
    if not _mailable(address):
        # Not an address anything of ours was sent to (we never send to one), and not one
        # the table can hold: skipping it keeps the batch's other events (a 500 would not).
        log.info("sendgrid webhook: an event's address is not a mailable address, skipped")
        return None
    if kind == "bounce" and item.get("type") == "blocked":
        return None  # a temporary block, not a dead address: SendGrid keeps sending too
    event_id = item.get("sg_event_id")
    extra = {
        name: str(item[name])
        for name in ("sg_message_id", *TRACED_ARGS)
        if isinstance(item.get(name), str | int) and not isinstance(item.get(name), bool)
    }
    return SuppressionEvent(
        email=address,
        reason=kind,
        event_id=event_id if _storable(event_id) else None,
        occurred_at=_time(item.get("timestamp")),
        extra={name: value for name, value in extra.items() if _storable(value)},
    )


def _mailable(address: str) -> bool:
    """Fits the suppression list (an address is at most 320 characters) and holds no control
    character (a NUL cannot even be stored in PostgreSQL)."""
    return 0 < len(address) <= EMAIL_LIMIT and not any(c < " " or c == "\x7f" for c in address)


def _storable(value: object) -> bool:
    """An id we keep in the suppression's details (JSON): text PostgreSQL's jsonb can hold."""
    return isinstance(value, str) and "\x00" not in value and len(value) <= ID_LIMIT


def _time(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return None
