"""Deliverers turn outbox rows of one channel into calls on that channel's port."""

from __future__ import annotations

from collections.abc import Sequence

from domain.statuses import OutboxChannel
from integrations.ports import (
    ChatMessage,
    ChatNotifier,
    DeliveryResult,
    EmailMessage,
    EmailSender,
    OutboundItem,
)


class EmailDeliverer:
    channel = OutboxChannel.EMAIL

    def __init__(self, sender: EmailSender) -> None:
        self.sender = sender

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]:
        messages = [
            EmailMessage(
                dedupe_key=item.dedupe_key,
                to=item.recipient,
                subject=str(item.payload.get("subject", "")),
                text=str(item.payload.get("text", "")),
                html=item.payload.get("html"),
                from_address=item.payload.get("from"),
                categories=tuple(item.payload.get("categories", ())),
                custom_args={"dedupe_key": item.dedupe_key},
            )
            for item in batch
        ]
        return self.sender.send(messages)

    def find_sent(self, dedupe_keys: Sequence[str]) -> dict[str, str | None] | None:
        return self.sender.find_sent(dedupe_keys)


class ChatDeliverer:
    channel = OutboxChannel.CHAT

    def __init__(self, notifier: ChatNotifier) -> None:
        self.notifier = notifier

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]:
        messages = [
            ChatMessage(
                dedupe_key=item.dedupe_key,
                recipient=item.recipient,
                text=str(item.payload.get("text", "")),
                blocks=list(item.payload.get("blocks", [])),
            )
            for item in batch
        ]
        return self.notifier.post(messages)

    def find_sent(self, dedupe_keys: Sequence[str]) -> dict[str, str | None] | None:
        return self.notifier.find_sent(dedupe_keys)
