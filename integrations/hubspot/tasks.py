"""CSM tasks in HubSpot: batch created with associations to company and contact, each
carrying the unique ``referral_outbox_key`` so a repeat creates nothing.

Tasks are looked up by that key with a batch read (``idProperty``), which sees a write at
once, unlike the search index (seconds behind). A create refused because a key already
exists is settled by reading the keys back; a create whose answer was lost reports its tasks
as uncertain, for the outbox dispatcher to check before sending again.
"""

from __future__ import annotations

from collections.abc import Sequence

from integrations.errors import PermanentError, TransientError, UncertainError
from integrations.hubspot.client import (
    BATCH,
    TASK_TO_COMPANY,
    TASK_TO_CONTACT,
    HubSpotApis,
    chunks,
)
from integrations.ports import CrmTask, DeliveryResult

KEY = "referral_outbox_key"
# A refused batch creates nothing (all-or-nothing); after settling the keys that exist, the
# rest are created again. Bounded, in case other writers keep racing for the same keys.
CREATE_ROUNDS = 3


class HubSpotTasks:
    def __init__(self, apis: HubSpotApis) -> None:
        self.apis = apis

    def find_tasks(self, dedupe_keys: Sequence[str]) -> dict[str, str | None]:
        found = self.apis.read_by("tasks", KEY, list(dedupe_keys))
        return {key: found.get(key.lower()) for key in dedupe_keys}

    def create_tasks(self, tasks: Sequence[CrmTask]) -> list[DeliveryResult]:
        """Batch create (100 per call) with associations to company and contact; one result
        per task, in order."""
        results: dict[str, DeliveryResult] = {}
        for chunk in chunks(list(tasks), BATCH):
            results |= self._create_chunk(chunk)
        return [results[t.dedupe_key] for t in tasks]

    def _create_chunk(self, chunk: Sequence[CrmTask]) -> dict[str, DeliveryResult]:
        results: dict[str, DeliveryResult] = {}
        pending = list(chunk)
        refusal: PermanentError | None = None
        for _ in range(CREATE_ROUNDS):
            try:
                ids = self._create(pending)
            except UncertainError as error:
                return results | _failed(pending, error, uncertain=True)
            except TransientError as error:
                return results | _failed(pending, error)
            except PermanentError as error:
                refusal = error
                try:
                    existing = {k: v for k, v in self.find_tasks(_keys(pending)).items() if v}
                except TransientError as check_error:
                    return results | _failed(pending, check_error)
                if not existing:  # a genuine refusal, not a key that already exists
                    return results | _failed(pending, error)
                results |= {k: DeliveryResult(k, provider_id=v) for k, v in existing.items()}
                pending = [t for t in pending if t.dedupe_key not in existing]
                if not pending:
                    return results
                continue
            return results | {
                t.dedupe_key: DeliveryResult(t.dedupe_key, provider_id=ids[t.dedupe_key])
                for t in pending
            }
        return results | _failed(pending, TransientError(f"still refused: {refusal}"))

    def _create(self, tasks: Sequence[CrmTask]) -> dict[str, str]:
        return self.apis.create(
            "tasks",
            lambda props: str(props.get(KEY, "")),
            [
                (
                    {
                        "hs_task_subject": t.subject[:250],
                        "hs_task_body": t.body,
                        "hs_timestamp": t.due_at.isoformat(),
                        "hs_task_status": "NOT_STARTED",
                        "hs_task_priority": t.priority,
                        "hs_task_type": "TODO",
                        KEY: t.dedupe_key,
                        **({"hubspot_owner_id": t.owner_id} if t.owner_id else {}),
                    },
                    [(t.company_id, TASK_TO_COMPANY), (t.contact_id, TASK_TO_CONTACT)],
                )
                for t in tasks
            ],
        )


def _keys(tasks: Sequence[CrmTask]) -> list[str]:
    return [t.dedupe_key for t in tasks]


def _failed(
    tasks: Sequence[CrmTask], error: Exception, *, uncertain: bool = False
) -> dict[str, DeliveryResult]:
    transient = isinstance(error, TransientError)
    retry_after = error.retry_after if isinstance(error, TransientError) else None
    return {
        t.dedupe_key: DeliveryResult(
            t.dedupe_key,
            error=str(error),
            transient=transient,
            retry_after=retry_after,
            uncertain=uncertain,
        )
        for t in tasks
    }
