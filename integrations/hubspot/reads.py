"""Reading HubSpot for the sync: records changed since a time (CRM search sorted by
last-modified, 200 per page) with one v4 association batch read per page of deals. Deals of
every pipeline are read: reports need every deal, and a referral's deal may sit anywhere."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest

from integrations.hubspot.client import SEARCH_PAGE, HubSpotApis, ms, parse_hubspot_time
from integrations.ports import CrmPage, CrmRecord

LAST_MODIFIED = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
}


class HubSpotReads:
    def __init__(self, apis: HubSpotApis) -> None:
        self.apis = apis

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
        last_modified = LAST_MODIFIED[object_type]
        filters = [Filter(property_name=last_modified, operator="GTE", value=ms(since))]
        return self._search_page(
            object_type,
            filters,
            last_modified,
            properties,
            after,
            limit,
            known,
            associations,
            since,
            next_after=lambda page: ((page.get("paging") or {}).get("next") or {}).get("after"),
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
        last_modified = LAST_MODIFIED[object_type]
        filters = [Filter(property_name=last_modified, operator="EQ", value=ms(at))]
        if after_id is not None:
            filters.append(Filter(property_name="hs_object_id", operator="GT", value=after_id))
        return self._search_page(
            object_type,
            filters,
            "hs_object_id",
            properties,
            None,
            limit,
            frozenset(),
            associations,
            at,
            next_after=lambda page: (
                str(page["results"][-1]["id"])
                if (page.get("paging") or {}).get("next") and page.get("results")
                else None
            ),
        )

    def _search_page(
        self,
        object_type: str,
        filters: list[Filter],
        sort_by: str,
        properties: Sequence[str],
        after: str | None,
        limit: int,
        known: Collection[str],
        associations: bool,
        floor: datetime,
        next_after: Callable[[Any], str | None],
    ) -> CrmPage:
        last_modified = LAST_MODIFIED[object_type]
        if object_type == "tasks":  # only the program's own tasks, not the whole portal's
            filters.append(Filter(property_name="referral_outbox_key", operator="HAS_PROPERTY"))
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)],
            sorts=[{"propertyName": sort_by, "direction": "ASCENDING"}],
            properties=sorted({*properties, last_modified}),
            limit=min(limit, SEARCH_PAGE),
            after=after,
        )
        page = self.apis.calls.json(
            f"POST /crm/v3/objects/{object_type}/search",
            self.apis.search.do_search,
            object_type,
            public_object_search_request=request,
            required=(("results", list),),
        )
        results = page["results"]
        # Deals the caller already stored need no second association read: a quiet sync then
        # costs one search call per object type.
        fresh = [str(r["id"]) for r in results if str(r["id"]) not in known]
        wanted = object_type == "deals" and associations and fresh
        companies = self.apis.deal_companies(fresh) if wanted else {}
        records = []
        for result in results:
            crm_id = str(result["id"])
            props = dict(result.get("properties") or {})
            updated = parse_hubspot_time(props.get(last_modified)) or parse_hubspot_time(
                result.get("updatedAt")
            )
            associations = {"companies": companies[crm_id]} if companies.get(crm_id) else {}
            # No readable time at all: the search found it at or after ``floor``, so it is
            # placed there. "Now" would move the sync's keyset past every record between.
            records.append(
                CrmRecord(
                    object_type, crm_id, props, updated or floor, associations, updated is None
                )
            )
        return CrmPage(records, next_after(page))
