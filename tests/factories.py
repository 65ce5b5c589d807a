"""Small builders for rows the tests need."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.outbox import NewMessage, enqueue
from domain.statuses import OutboxChannel
from integrations.ports import ReferralPush


def email(n: int, prefix: str = "test") -> NewMessage:
    return NewMessage(
        channel=OutboxChannel.EMAIL,
        operation="send_email",
        recipient=f"person{n}@client{n}.example",
        dedupe_key=f"{prefix}:email:{n}",
        template="thanks_closed_won",
        payload={"subject": f"Thanks #{n}", "text": f"Thank you, person {n}."},
    )


def chat(n: int, prefix: str = "test") -> NewMessage:
    return NewMessage(
        channel=OutboxChannel.CHAT,
        operation="post_message",
        recipient=f"U{n:08d}",
        dedupe_key=f"{prefix}:chat:{n}",
        payload={"text": f"Digest {n}", "blocks": []},
    )


def enqueue_messages(
    factory: sessionmaker[Session], messages: list[NewMessage], now: datetime
) -> int:
    with transaction(factory) as session:
        return enqueue(session, messages, now)


def referral_push(n: int, **overrides: object) -> ReferralPush:
    """A referral to push to the CRM: prospect ``n`` with its own domain unless overridden."""
    values: dict[str, object] = {
        "referral_key": f"ref-{n}",
        "company_name": f"Prospect {n}",
        "company_domain": f"prospect{n}.example",
        "contact_email": f"cfo@prospect{n}.example",
        "contact_first_name": "Bea",
        "contact_last_name": "Ng",
        "contact_title": "CFO",
        "deal_name": f"Prospect {n} (referral)",
        "pipeline_id": "default",
        "stage_id": "referralintroduction",
        "referred_by_email": "ana@client.example",
        "referrer_type": "client",
    }
    return ReferralPush(**{**values, **overrides})  # type: ignore[arg-type]
