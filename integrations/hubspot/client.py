"""What every HubSpot capability module shares: the SDK's API objects, the call runner, and
the batch helpers (search by value, read by a unique property, create echoing keys)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from hubspot import HubSpot
from hubspot.crm.objects import (
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
)

from integrations.errors import UncertainError
from integrations.hubspot.calls import HubSpotCalls

SEARCH_PAGE = 200
BATCH = 100
ASSOCIATION_BATCH = 1000  # v4 association batch read accepts up to 1000 ids
# HubSpot-defined association type ids (CRM v4).
DEAL_TO_COMPANY = 341
DEAL_TO_CONTACT = 3
CONTACT_TO_COMPANY = 279
TASK_TO_COMPANY = 192
TASK_TO_CONTACT = 204


def ms(value: datetime) -> str:
    return str(int(value.timestamp() * 1000))


def parse_hubspot_time(value: Any) -> datetime | None:
    """HubSpot sends ISO 8601 (``2026-03-02T09:00:00.000Z``) or milliseconds since epoch."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class HubSpotApis:
    """The SDK's API objects, built once (each SDK accessor builds a new API client and
    connection pool), and the call runner every request goes through."""

    def __init__(self, client: HubSpot, calls: HubSpotCalls) -> None:
        crm = client.crm
        self.calls = calls
        self.search = crm.objects.search_api
        self.batch = crm.objects.batch_api
        self.associations = crm.associations.v4.batch_api
        self.properties = crm.properties.core_api
        self.property_batch = crm.properties.batch_api
        self.groups = crm.properties.groups_api
        self.pipelines = crm.pipelines.pipelines_api
        self.owners = crm.owners.owners_api

    def search_values(self, object_type: str, prop: str, values: Sequence[str]) -> dict[str, str]:
        """value -> id for records whose ``prop`` is one of ``values`` (one search per 100)."""
        found: dict[str, str] = {}
        for chunk in chunks(list(values), BATCH):
            request = PublicObjectSearchRequest(
                filter_groups=[
                    FilterGroup(
                        filters=[Filter(property_name=prop, operator="IN", values=list(chunk))]
                    )
                ],
                properties=[prop],
                limit=SEARCH_PAGE,
            )
            page = self.calls(
                f"POST /crm/v3/objects/{object_type}/search",
                self.search.do_search,
                object_type,
                public_object_search_request=request,
            )
            for result in page.results:
                value = (result.properties or {}).get(prop)
                if value:
                    found.setdefault(value.lower() if prop == "domain" else value, str(result.id))
        return found

    def read_by(self, object_type: str, id_property: str, values: Sequence[str]) -> dict[str, str]:
        """value -> id by a unique property, with batch read (not the search index, which
        lags behind writes by a few seconds)."""
        found: dict[str, str] = {}
        for chunk in chunks(list(values), BATCH):
            # Plain JSON both ways: an SDK model per id builds its own Configuration (a deep
            # copy and a logger reset each), which was a twentieth of a referral push's CPU.
            response = self.calls.json(
                f"POST /crm/v3/objects/{object_type}/batch/read",
                self.batch.read,
                object_type,
                required=(("results", list),),
                batch_read_input_simple_public_object_id={
                    "inputs": [{"id": v} for v in chunk],
                    "properties": [id_property],
                    "propertiesWithHistory": [],
                    "idProperty": id_property,
                },
            )
            for result in response["results"]:
                props = result.get("properties") if isinstance(result, dict) else None
                value = props.get(id_property) if isinstance(props, dict) else None
                if isinstance(value, str) and value:
                    found[value.lower()] = str(result["id"])
        return found

    def create(
        self,
        object_type: str,
        key_of: Callable[[dict[str, Any]], str],
        items: Sequence[tuple[dict[str, str], list[tuple[str | None, int]]]],
    ) -> dict[str, str]:
        """Batch create; ids by each record's key, read from the properties HubSpot echoes
        back (HubSpot does not promise results in input order).

        A lost answer raises ``UncertainError`` (records may exist); a refusal (409 on a unique
        value, 400) raises ``PermanentError`` and creates nothing: HubSpot batches are
        all-or-nothing."""
        ids: dict[str, str] = {}
        for chunk in chunks(list(items), BATCH):
            # Plain JSON both ways, as HubSpot's API takes and gives it: the SDK's request and
            # answer models cost more CPU than the rest of a referral push together.
            inputs = [
                {
                    "properties": props,
                    "associations": [
                        {
                            "to": {"id": to_id},
                            "types": [
                                {
                                    "associationCategory": "HUBSPOT_DEFINED",
                                    "associationTypeId": type_id,
                                }
                            ],
                        }
                        for to_id, type_id in associations
                        if to_id
                    ],
                }
                for props, associations in chunk
            ]
            response = self.calls.json(
                f"POST /crm/v3/objects/{object_type}/batch/create",
                self.batch.create,
                object_type,
                required=(("results", list),),
                batch_input_simple_public_object_batch_input_for_create={"inputs": inputs},
            )
            for result in response["results"]:
                if isinstance(result, dict) and result.get("id") is not None:
                    ids[key_of(dict(result.get("properties") or {}))] = str(result["id"])
            missing = [key_of(props) for props, _ in chunk if key_of(props) not in ids]
            if missing:  # an answer we cannot read for those records: they may exist
                raise UncertainError(
                    f"HubSpot created {object_type} but echoed no record for {missing[:3]}"
                )
        return ids

    def deal_companies(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        """Company ids associated with each deal (v4 batch read, 1000 ids per call)."""
        found: dict[str, list[str]] = {}
        for chunk in chunks(list(deal_ids), ASSOCIATION_BATCH):
            # Plain JSON both ways, not the SDK's models: a model per deal and association
            # (each with its own SDK Configuration and loggers) was a tenth of a sync's CPU.
            response = self.calls.json(
                "POST /crm/v4/associations/deals/companies/batch/read",
                self.associations.get_page,
                "deals",
                "companies",
                required=(("results", list),),
                batch_input_public_fetch_associations_batch_request={
                    "inputs": [{"id": i} for i in chunk]
                },
            )
            for result in response["results"]:
                source = result.get("from") if isinstance(result, dict) else None
                if not isinstance(source, dict) or source.get("id") is None:
                    continue  # an entry that names no deal tells nothing
                found[str(source["id"])] = [
                    str(t["toObjectId"])
                    for t in result.get("to") or []
                    if isinstance(t, dict) and t.get("toObjectId") is not None
                ]
        return found
