"""Deliverers turn outbox rows of one channel into calls on that channel's port."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from domain.crm_records import parse_time
from domain.statuses import OutboxChannel
from integrations.ports import (
    ChatMessage,
    ChatNotifier,
    Crm,
    CrmTask,
    DeliveryResult,
    EmailMessage,
    EmailSender,
    OutboundItem,
)


class EmailDeliverer:
    """Outbox email rows to the email port. The payload's ``custom_args`` (ids such as
    ``referral_id``) travel with the message, plus the row's own key as ``outbox_key``, so
    the vendor's events can be traced back to the row; its ``headers`` go into the message."""

    channel = OutboxChannel.EMAIL

    def __init__(self, sender: EmailSender) -> None:
        self.sender = sender

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]:
        return self.sender.send([self._message(item) for item in batch])

    @staticmethod
    def _message(item: OutboundItem) -> EmailMessage:
        payload = item.payload
        custom_args = {str(k): str(v) for k, v in (payload.get("custom_args") or {}).items()}
        return EmailMessage(
            dedupe_key=item.dedupe_key,
            to=item.recipient,
            subject=str(payload.get("subject", "")),
            text=str(payload.get("text", "")),
            html=payload.get("html"),
            from_address=payload.get("from"),
            categories=tuple(str(c) for c in payload.get("categories") or ()),
            custom_args={**custom_args, "outbox_key": item.dedupe_key},
            headers={str(k): str(v) for k, v in (payload.get("headers") or {}).items()},
        )

    def find_sent(self, batch: Sequence[OutboundItem]) -> dict[str, str | None] | None:
        return self.sender.find_sent([item.dedupe_key for item in batch])


class ChatDeliverer:
    channel = OutboxChannel.CHAT

    def __init__(self, notifier: ChatNotifier) -> None:
        self.notifier = notifier

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]:
        return self.notifier.post(self._messages(batch))

    def find_sent(self, batch: Sequence[OutboundItem]) -> dict[str, str | None] | None:
        return self.notifier.find_sent(self._messages(batch))

    @staticmethod
    def _messages(batch: Sequence[OutboundItem]) -> list[ChatMessage]:
        return [
            ChatMessage(
                dedupe_key=item.dedupe_key,
                recipient=item.recipient,
                text=str(item.payload.get("text", "")),
                blocks=list(item.payload.get("blocks", [])),
            )
            for item in batch
        ]


class CrmDeliverer:
    """CRM writes decided by the program; today: tasks for CSMs (operation ``create_task``)."""

    channel = OutboxChannel.CRM

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]:
        tasks, results = [], {}
        for item in batch:
            if item.operation != "create_task":
                results[item.dedupe_key] = DeliveryResult(
                    item.dedupe_key, error=f"unknown CRM operation {item.operation!r}"
                )
                continue
            p = item.payload
            tasks.append(
                CrmTask(
                    dedupe_key=item.dedupe_key,
                    subject=str(p["subject"]),
                    body=str(p["body"]),
                    due_at=parse_time(p["due_at"]) or datetime.now(UTC),
                    owner_id=p.get("owner_id"),
                    company_id=p.get("company_id"),
                    contact_id=p.get("contact_id"),
                    priority=str(p.get("priority", "MEDIUM")),
                )
            )
        if tasks:
            results.update({r.dedupe_key: r for r in self.crm.create_tasks(tasks)})
        return [results[item.dedupe_key] for item in batch if item.dedupe_key in results]

    def find_sent(self, batch: Sequence[OutboundItem]) -> dict[str, str | None] | None:
        return self.crm.find_tasks([item.dedupe_key for item in batch])
