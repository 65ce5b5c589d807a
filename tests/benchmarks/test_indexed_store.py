"""The benchmark's HubSpot store answers searches through indexes; its answers must be the
fake's own, or the benchmark would count calls against a portal that behaves differently."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.hubspot_index import IndexedStore
from tests.fakes.hubspot_store import HubSpotStore, iso

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _stores(seed: int) -> tuple[HubSpotStore, IndexedStore]:
    plain, indexed = HubSpotStore(lambda: T0), IndexedStore(lambda: T0)
    rng = random.Random(seed)
    for i in range(300):
        at = T0 + timedelta(seconds=rng.choice([0, 1, 1, 2, 5, 7]) * 60 + rng.randrange(3))
        values = {"name": f"Company {i}"}
        if i % 7:
            values["domain"] = f"c{i}.example"
        for store in (plain, indexed):
            store.create("companies", values, at)
    # Later edits move records along the index, as a day's churn does.
    for object_id in rng.sample(sorted(plain._objects["companies"]), 40):
        at = T0 + timedelta(minutes=rng.randrange(10))
        for store in (plain, indexed):
            store.apply(store.get("companies", object_id), {"name": "edited"}, at)
    return plain, indexed


def _pages(store: HubSpotStore, body: dict) -> list[dict]:
    pages, after = [], None
    while True:
        page = store.search("companies", {**body, **({"after": after} if after else {})})
        pages.append(page)
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if after is None:
            return pages


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("operator", ["GTE", "GT"])
@pytest.mark.parametrize("with_property_filter", [False, True])
def test_keyset_pages_are_the_fakes_own(seed, operator, with_property_filter):
    plain, indexed = _stores(seed)
    for minutes in (0, 1, 3, 7, 11):
        filters = [
            {
                "propertyName": "hs_lastmodifieddate",
                "operator": operator,
                "value": iso(T0 + timedelta(minutes=minutes)),
            }
        ]
        if with_property_filter:
            filters.append({"propertyName": "domain", "operator": "HAS_PROPERTY"})
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["name", "hs_lastmodifieddate"],
            "limit": 25,
        }
        assert _pages(indexed, body) == _pages(plain, body)
