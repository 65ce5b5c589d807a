"""CSM tasks in HubSpot: batch created with associations to company and contact, each
carrying the unique ``referral_outbox_key`` so a repeat creates nothing."""

from __future__ import annotations

from collections.abc import Sequence

from integrations.errors import PermanentError
from integrations.hubspot.client import (
    BATCH,
    TASK_TO_COMPANY,
    TASK_TO_CONTACT,
    HubSpotApis,
    chunks,
)
from integrations.ports import CrmTask, DeliveryResult


class HubSpotTasks:
    def __init__(self, apis: HubSpotApis) -> None:
        self.apis = apis

    def find_tasks(self, dedupe_keys: Sequence[str]) -> dict[str, str | None]:
        found = self.apis.search_values("tasks", "referral_outbox_key", list(dedupe_keys))
        return {key: found.get(key) for key in dedupe_keys}

    def create_tasks(self, tasks: Sequence[CrmTask]) -> list[DeliveryResult]:
        """Batch create (100 per call) with associations to company and contact. Tasks carry
        the unique ``referral_outbox_key``, looked up first, so a repeat creates nothing."""
        results: dict[str, DeliveryResult] = {}
        for chunk in chunks(list(tasks), BATCH):
            existing = self.find_tasks([t.dedupe_key for t in chunk])
            missing = [t for t in chunk if not existing.get(t.dedupe_key)]
            results.update({k: DeliveryResult(k, provider_id=v) for k, v in existing.items() if v})
            try:
                ids = self.apis.create(
                    "tasks",
                    lambda props: str(props.get("referral_outbox_key", "")),
                    [
                        (
                            {
                                "hs_task_subject": t.subject[:250],
                                "hs_task_body": t.body,
                                "hs_timestamp": t.due_at.isoformat(),
                                "hs_task_status": "NOT_STARTED",
                                "hs_task_priority": t.priority,
                                "hs_task_type": "TODO",
                                "referral_outbox_key": t.dedupe_key,
                                **({"hubspot_owner_id": t.owner_id} if t.owner_id else {}),
                            },
                            [(t.company_id, TASK_TO_COMPANY), (t.contact_id, TASK_TO_CONTACT)],
                        )
                        for t in missing
                    ],
                )
            except PermanentError as error:
                results.update(
                    {t.dedupe_key: DeliveryResult(t.dedupe_key, error=str(error)) for t in missing}
                )
                continue
            results.update(
                {
                    t.dedupe_key: DeliveryResult(t.dedupe_key, provider_id=ids[t.dedupe_key])
                    for t in missing
                }
            )
        return [results[t.dedupe_key] for t in tasks]
