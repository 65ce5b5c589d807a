"""The first fulfilment adapter: a manual finance queue.

Handing a payout over means queueing it for finance: it is then listed by `referrals rewards
export` (numbered batches) until finance marks it paid. Payment providers (gift cards,
payouts APIs) are later adapters of the same port; they would pay here and return the
provider's reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from integrations.ports import DeliveryResult, Payout


class FinanceQueue:
    name = "finance-queue"

    def submit(self, payouts: Sequence[Payout]) -> list[DeliveryResult]:
        return [self._queue(payout) for payout in payouts]

    @staticmethod
    def _queue(payout: Payout) -> DeliveryResult:
        try:
            amount = Decimal(payout.amount)
        except InvalidOperation:
            amount = Decimal(-1)
        if amount < 0 or not payout.recipient_email:
            return DeliveryResult(
                payout.dedupe_key,
                error=f"reward {payout.reward_id}: payout needs a recipient and an amount >= 0",
            )
        return DeliveryResult(payout.dedupe_key, provider_id=f"finance-queue:{payout.reward_id}")

    def find_sent(self, dedupe_keys: Sequence[str]) -> dict[str, str | None] | None:
        # Queueing has no answer to lose and a repeat queues the same row again: after a crash
        # every row is simply handed over again, never parked for a person.
        return dict.fromkeys(dedupe_keys)
