"""HubSpot adapter of the CRM port, on the official SDK (`hubspot-api-client`).

One class per capability (reads for the sync, the portal's owners and pipelines, referral
pushes, tasks, setup), each in its own
module; this one puts them behind the port. Every call goes through :class:`HubSpotCalls`
(rate limits, retry policy, counting).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from hubspot import HubSpot

from integrations.hubspot.calls import HubSpotCalls
from integrations.hubspot.client import SEARCH_PAGE, HubSpotApis
from integrations.hubspot.portal import HubSpotPortal
from integrations.hubspot.push import HubSpotPush
from integrations.hubspot.reads import HubSpotReads
from integrations.hubspot.setup import HubSpotSetup
from integrations.hubspot.tasks import HubSpotTasks
from integrations.ports import (
    CrmOwner,
    CrmPage,
    CrmPipeline,
    CrmTask,
    DeliveryResult,
    PropertySpec,
    PushResult,
    ReferralPush,
)


class HubSpotCrm:
    # Reads may run in a thread of their own next to the caller's (the sync reads its next
    # page while it applies the last): the SDK's pool, the limiters and the counts allow it.
    concurrent_reads = True

    def __init__(self, client: HubSpot, calls: HubSpotCalls):
        self.calls = calls
        apis = HubSpotApis(client, calls)
        self._reads = HubSpotReads(apis)
        self._push = HubSpotPush(apis)
        self._tasks = HubSpotTasks(apis)
        self._setup = HubSpotSetup(apis)
        self._portal = HubSpotPortal(apis)

    def api_calls(self) -> dict[str, int]:
        return dict(self.calls.counts)

    def changed_since(
        self,
        object_type: str,
        since: datetime,
        properties: Sequence[str],
        after: str | None = None,
        limit: int = SEARCH_PAGE,
        known: Collection[str] = frozenset(),
        associations: bool = True,
    ) -> CrmPage:
        return self._reads.changed_since(
            object_type, since, properties, after, limit, known, associations
        )

    def changed_at(
        self,
        object_type: str,
        at: datetime,
        properties: Sequence[str],
        after_id: str | None = None,
        limit: int = SEARCH_PAGE,
        associations: bool = True,
    ) -> CrmPage:
        return self._reads.changed_at(object_type, at, properties, after_id, limit, associations)

    def deal_companies(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        return self._reads.apis.deal_companies(deal_ids)

    def push_referrals(self, pushes: Sequence[ReferralPush]) -> list[PushResult]:
        return self._push.push_referrals(pushes)

    def find_referral_deals(self, referral_keys: Sequence[str]) -> dict[str, str | None]:
        return self._push.find_referral_deals(referral_keys)

    def create_tasks(self, tasks: Sequence[CrmTask]) -> list[DeliveryResult]:
        return self._tasks.create_tasks(tasks)

    def find_tasks(self, dedupe_keys: Sequence[str]) -> dict[str, str | None]:
        return self._tasks.find_tasks(dedupe_keys)

    def owners(self) -> list[CrmOwner]:
        return self._portal.owners()

    def pipelines(self) -> list[CrmPipeline]:
        return self._portal.pipelines()

    def setup(self, properties: Mapping[str, Sequence[PropertySpec]]) -> list[str]:
        return self._setup.setup(properties)
