"""Deliverers turn outbox rows of one channel into calls on that channel's port."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from domain.crm_records import parse_time
from domain.statuses import OutboxChannel
from integrations.errors import TransientError, UncertainError
from integrations.ports import (
    ChatMessage,
    ChatNotifier,
    Crm,
    CrmTask,
    DeliveryResult,
    EmailMessage,
    EmailSender,
    Fulfilment,
    OutboundItem,
    Payout,
    ReferralPush,
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


class FulfilmentDeliverer:
    """Outbox payout rows (one per released reward) to the fulfilment port."""

    channel = OutboxChannel.FULFILMENT

    def __init__(self, fulfilment: Fulfilment) -> None:
        self.fulfilment = fulfilment

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]:
        return self.fulfilment.submit([self._payout(item) for item in batch])

    def find_sent(self, batch: Sequence[OutboundItem]) -> dict[str, str | None] | None:
        return self.fulfilment.find_sent([item.dedupe_key for item in batch])

    @staticmethod
    def _payout(item: OutboundItem) -> Payout:
        p = item.payload
        return Payout(
            dedupe_key=item.dedupe_key,
            reward_id=int(p.get("reward_id", 0)),
            recipient_email=item.recipient,
            reward_type=str(p.get("reward_type", "")),
            amount=str(p.get("amount", "")),
            currency=str(p.get("currency", "")),
        )


class CrmDeliverer:
    """CRM writes decided by the program: tasks for CSMs (operation ``create_task``) and
    referrals pushed as company, contact and deal (operation ``push_referral``, its vendor
    reference ``company|contact|deal`` ids)."""

    channel = OutboxChannel.CRM
    # One CRM batch call's worth (HubSpot's batch writes take 100): the dispatcher's first
    # chunk, sent before it has measured the pace, is one call rather than one row.
    batch_size = 100

    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    def deliver(self, batch: Sequence[OutboundItem]) -> list[DeliveryResult]:
        results: dict[str, DeliveryResult] = {}
        tasks = [i for i in batch if i.operation == "create_task"]
        pushes = [i for i in batch if i.operation == "push_referral"]
        for item in batch:
            if item.operation not in ("create_task", "push_referral"):
                results[item.dedupe_key] = DeliveryResult(
                    item.dedupe_key, error=f"unknown CRM operation {item.operation!r}"
                )
        if tasks:
            results.update({r.dedupe_key: r for r in self.crm.create_tasks(_tasks(tasks))})
        if pushes:
            results.update(_pushed(self.crm, pushes))
        return [results[item.dedupe_key] for item in batch if item.dedupe_key in results]

    def find_sent(self, batch: Sequence[OutboundItem]) -> dict[str, str | None] | None:
        found: dict[str, str | None] = {}
        tasks = [i.dedupe_key for i in batch if i.operation == "create_task"]
        if tasks:
            found |= self.crm.find_tasks(tasks)
        pushes = {
            i.payload["referral_key"]: i.dedupe_key for i in batch if i.operation == "push_referral"
        }
        if pushes:
            deals = self.crm.find_referral_deals(list(pushes))
            found |= {
                key: (f"||{deals[ref]}" if deals.get(ref) else None) for ref, key in pushes.items()
            }
        return found


def _tasks(items: Sequence[OutboundItem]) -> list[CrmTask]:
    return [
        CrmTask(
            dedupe_key=item.dedupe_key,
            subject=str(item.payload["subject"]),
            body=str(item.payload["body"]),
            due_at=parse_time(item.payload["due_at"]) or datetime.now(UTC),
            owner_id=item.payload.get("owner_id"),
            company_id=item.payload.get("company_id"),
            contact_id=item.payload.get("contact_id"),
            priority=str(item.payload.get("priority", "MEDIUM")),
        )
        for item in items
    ]


def _pushed(crm: Crm, items: Sequence[OutboundItem]) -> dict[str, DeliveryResult]:
    """Push a batch of referrals; a failure of the call is a failure of each of its items
    (a lost answer is uncertain: the dispatcher asks the CRM before pushing again)."""
    keys = {item.payload["referral_key"]: item.dedupe_key for item in items}
    try:
        results = crm.push_referrals(
            [
                ReferralPush(**{k: v for k, v in item.payload.items() if k in PUSH_FIELDS})
                for item in items
            ]
        )
    except TransientError as error:
        uncertain = isinstance(error, UncertainError)
        return {
            key: DeliveryResult(
                key,
                error=str(error),
                transient=True,
                retry_after=error.retry_after,
                uncertain=uncertain,
            )
            for key in keys.values()
        }
    return {
        keys[r.referral_key]: DeliveryResult(
            keys[r.referral_key],
            provider_id=None
            if r.error
            else f"{r.company_id or ''}|{r.contact_id or ''}|{r.deal_id or ''}",
            error=r.error,
        )
        for r in results
    }


PUSH_FIELDS = frozenset(ReferralPush.__dataclass_fields__)
