"""The benchmark's HubSpot store: the fake's store with indexes behind its search, unique
checks and ``idProperty`` look-ups. The fake scans every record for each (fine for tests,
hours at 100k accounts); here candidates are narrowed by an index, then the fake's own
matching and sorting decide, so answers are the same (tests/benchmarks checks the pages)."""

from __future__ import annotations

import bisect
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tests.fakes.hubspot_store import (
    CONTACTS,
    HubSpotStore,
    JsonDict,
    StoredObject,
)

MAX_SEARCH_RESULTS = 10_000  # as the fake (and HubSpot): a search pages through at most this
# Filters the indexes can answer; anything else goes through the fake's full scan.
_RANGE_OPS = {"EQ", "GT", "GTE", "LT", "LTE"}


class IndexedStore(HubSpotStore):
    """The fake's store with indexes kept in step with every write (see the module doc)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__(now)
        # (type, property) -> comparable value -> ids; built on first use, then maintained.
        self._values: dict[tuple[str, str], dict[Any, set[str]]] = {}
        # (type, property) -> sorted [(comparable, int id)] for range filters.
        self._ranges: dict[tuple[str, str], list[tuple[Any, int]]] = {}
        self._version: Counter[str] = Counter()  # per type: bumps on every write
        self._matches: dict[tuple[str, str], tuple[int, list[StoredObject]]] = {}

    # -- keeping the indexes -------------------------------------------------------------

    def _comparable_of(self, object_type: str, name: str, raw: str | None) -> Any:
        if raw in (None, ""):
            return None
        definition = self.definitions(object_type).get(name)
        return None if definition is None else self._comparable(definition, raw)

    def apply(
        self,
        obj: StoredObject,
        values: Mapping[str, str | None],
        at: datetime,
        source: str = "INTEGRATION",
    ) -> None:
        watched = [p for (t, p) in (*self._values, *self._ranges) if t == obj.object_type]
        before = {p: obj.properties.get(p) for p in watched}
        super().apply(obj, values, at, source)
        self._version[obj.object_type] += 1
        for name in watched:
            after = obj.properties.get(name)
            if after == before[name]:
                continue
            old = self._comparable_of(obj.object_type, name, before[name])
            new = self._comparable_of(obj.object_type, name, after)
            index = self._values.get((obj.object_type, name))
            if index is not None:
                if old is not None:
                    index.get(old, set()).discard(obj.id)
                if new is not None:
                    index.setdefault(new, set()).add(obj.id)
            ranged = self._ranges.get((obj.object_type, name))
            if ranged is not None:
                if old is not None:
                    at_old = bisect.bisect_left(ranged, (old, int(obj.id)))
                    if at_old < len(ranged) and ranged[at_old] == (old, int(obj.id)):
                        del ranged[at_old]
                if new is not None:
                    bisect.insort(ranged, (new, int(obj.id)))

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str, **kw: Any) -> None:
        super().associate(from_type, from_id, to_type, to_id, **kw)
        self._version[from_type] += 1  # association filters may read it
        self._version[to_type] += 1

    def _value_index(self, object_type: str, name: str) -> dict[Any, set[str]]:
        key = (object_type, name)
        if key not in self._values:
            index: dict[Any, set[str]] = defaultdict(set)
            for obj in self._objects[object_type].values():
                value = self._comparable_of(object_type, name, obj.properties.get(name))
                if value is not None:
                    index[value].add(obj.id)
            self._values[key] = dict(index)
        return self._values[key]

    def _range_index(self, object_type: str, name: str) -> list[tuple[Any, int]]:
        key = (object_type, name)
        if key not in self._ranges:
            pairs = []
            for obj in self._objects[object_type].values():
                value = self._comparable_of(object_type, name, obj.properties.get(name))
                if value is not None:
                    pairs.append((value, int(obj.id)))
            self._ranges[key] = sorted(pairs)
        return self._ranges[key]

    # -- the three scans the fake does per request ---------------------------------------

    def check_unique(
        self,
        object_type: str,
        values: Mapping[str, str | None],
        exclude_id: str | None,
        pending: Mapping[tuple[str, str], str] | None = None,
    ) -> list[tuple[str, str]]:
        """As the fake's, with the holder found by the index instead of a scan."""
        defs = self.definitions(object_type)
        for name, value in values.items():
            unique = (object_type == CONTACTS and name == "email") or (
                name in defs and defs[name].has_unique_value
            )
            if unique and value is not None and (pending or {}).get((name, value.lower())) is None:
                holders = self._value_index(object_type, name).get(
                    self._comparable_of(object_type, name, value), set()
                ) - {exclude_id}
                if holders:  # let the fake's own code word the 409 (it finds the same one)
                    return super().check_unique(object_type, values, exclude_id, pending)
        # Nobody holds any value: the fake's answer, without its scan.
        claimed = []
        for name, value in values.items():
            unique = (object_type == CONTACTS and name == "email") or (
                name in defs and defs[name].has_unique_value
            )
            if unique and value is not None:
                claimed.append((name, value.lower()))
        for key in claimed:
            holder = (pending or {}).get(key)
            if holder is not None and holder != exclude_id:
                return super().check_unique(object_type, values, exclude_id, pending)
        return claimed

    def find_by(self, object_type: str, id_property: str | None, value: str) -> StoredObject | None:
        defs = self.definitions(object_type)
        unique = (object_type == CONTACTS and id_property == "email") or (
            id_property in defs and defs[id_property].has_unique_value
        )
        if not id_property or id_property == "hs_object_id" or not unique:
            return super().find_by(object_type, id_property, value)  # by id, or the fake's 400
        ids = self._value_index(object_type, id_property).get(
            self._comparable_of(object_type, id_property, value), set()
        )
        wanted = value.strip().lower()
        for object_id in sorted(ids, key=int):
            obj = self._objects[object_type][object_id]
            if (obj.properties.get(id_property) or "").lower() == wanted:
                return obj
        return None

    def search(self, object_type: str, body: Mapping[str, Any]) -> JsonDict:
        limit, after_text = body.get("limit", 10), str(body.get("after") or "0")
        valid_page = (
            isinstance(limit, int)
            and not isinstance(limit, bool)
            and 0 <= limit <= 200
            and after_text.isdigit()
            and int(after_text) < MAX_SEARCH_RESULTS
        )
        keyset = self._keyset_page(object_type, body) if valid_page else None
        if keyset is not None:
            return keyset
        candidates = self._candidates(object_type, body) if valid_page else None
        if candidates is None:
            return super().search(object_type, body)  # the fake's scan, and its 400s
        key = (object_type, json.dumps([body.get("filterGroups"), body.get("sorts")], default=str))
        version = self._version[object_type]
        cached = self._matches.get(key)
        if cached is not None and cached[0] == version:
            matches = cached[1]
        else:
            defs = self.definitions(object_type)
            group = body["filterGroups"][0]
            matches = [o for o in candidates if self._group_matches(o, group, defs)]
            for name, descending in reversed(self._parse_sorts(defs, body.get("sorts") or [])):
                present = [o for o in matches if o.properties.get(name) not in (None, "")]
                missing = [o for o in matches if o.properties.get(name) in (None, "")]
                present.sort(
                    key=lambda o, n=name: self._sort_key(defs[n], o.properties[n]),
                    reverse=descending,
                )
                matches = present + missing
            self._matches[key] = (version, matches)
        after = int(after_text)
        page = matches[:MAX_SEARCH_RESULTS][after : after + limit]
        result: JsonDict = {
            "total": len(matches),
            "results": [self.object_json(o, body.get("properties")) for o in page],
        }
        if limit and after + limit < len(matches):
            next_after = str(after + limit)
            link = f"{self.base_url}/crm/v3/objects/{object_type}/search?after={next_after}"
            result["paging"] = {"next": {"after": next_after, "link": link}}
        return result

    def _keyset_page(self, object_type: str, body: Mapping[str, Any]) -> JsonDict | None:
        """A sync's page (``P >= t`` sorted by ``P`` ascending, a new ``t`` each page), walked
        along the range index from ``t`` up to the page's end instead of filtering and sorting
        every later record per page (quadratic over a full sync: hours at 100k). The same
        answer as the fake's; None when the request has another shape."""
        groups, sorts = body.get("filterGroups") or [], body.get("sorts") or []
        if len(groups) != 1 or body.get("query") or len(sorts) != 1:
            return None
        sort, filters = sorts[0], (groups[0] or {}).get("filters") or []
        if not isinstance(sort, dict) or sort.get("direction", "ASCENDING") != "ASCENDING":
            return None
        name = sort.get("propertyName")
        defs = self.definitions(object_type)
        ranges = [
            f
            for f in filters
            if isinstance(f, dict)
            and f.get("propertyName") == name
            and f.get("operator") in {"GT", "GTE"}
        ]
        if name not in defs or len(ranges) != 1 or not all(isinstance(f, dict) for f in filters):
            return None
        try:
            for flt in filters:
                self._check_filter(object_type, defs, flt)  # the fake's 400s, per filter
            target = self._typed(defs[name], str(ranges[0]["value"]))
        except Exception:  # a value the fake will refuse: let it
            return None
        ranged = self._range_index(object_type, name)
        strict = ranges[0]["operator"] == "GT"
        low = (bisect.bisect_right if strict else bisect.bisect_left)(
            ranged, (target, sys.maxsize if strict else -1)
        )
        only = len(filters) == 1  # then every record from ``low`` on matches
        after, limit = int(str(body.get("after") or "0")), body.get("limit", 10)
        end = min(after + limit, MAX_SEARCH_RESULTS)
        objects, page, count = self._objects[object_type], [], 0
        for position in range(low, len(ranged)):
            obj = objects[str(ranged[position][1])]
            if not only and not self._group_matches(obj, groups[0], defs):
                continue
            if after <= count < end:
                page.append(obj)
            count += 1
            if only and count >= end:
                break
        total = len(ranged) - low if only else count
        result: JsonDict = {
            "total": total,
            "results": [self.object_json(o, body.get("properties")) for o in page],
        }
        if limit and after + limit < total:
            next_after = str(after + limit)
            link = f"{self.base_url}/crm/v3/objects/{object_type}/search?after={next_after}"
            result["paging"] = {"next": {"after": next_after, "link": link}}
        return result

    def _candidates(self, object_type: str, body: Mapping[str, Any]) -> list[StoredObject] | None:
        """Records that may match, ids ascending (the fake's order before sorting); None when
        no index applies (the fake's scan answers)."""
        groups = body.get("filterGroups") or []
        if len(groups) != 1 or body.get("query"):
            return None
        defs = self.definitions(object_type)
        best: set[int] | None = None
        for flt in (groups[0] or {}).get("filters") or []:
            if not isinstance(flt, dict):
                return None
            name, operator = flt.get("propertyName"), flt.get("operator")
            if not isinstance(name, str) or name not in defs:
                return None
            try:
                self._check_filter(object_type, defs, flt)  # the fake's 400s, per filter
                if operator == "IN" and isinstance(flt.get("values"), list):
                    index = self._value_index(object_type, name)
                    wanted = {self._typed(defs[name], str(v)) for v in flt["values"]}
                    found = {int(i) for w in wanted for i in index.get(w, ())}
                elif operator in _RANGE_OPS and flt.get("value") is not None:
                    ranged = self._range_index(object_type, name)
                    target = self._typed(defs[name], str(flt["value"]))
                    low = 0 if operator in {"LT", "LTE"} else None
                    if low is None:
                        low = (bisect.bisect_right if operator == "GT" else bisect.bisect_left)(
                            ranged, (target, -1 if operator != "GT" else sys.maxsize)
                        )
                    high = len(ranged)
                    if operator in {"LT", "LTE", "EQ"}:
                        bound = (target, -1) if operator == "LT" else (target, sys.maxsize)
                        high = bisect.bisect_right(ranged, bound)
                    found = {object_id for _, object_id in ranged[low:high]}
                else:
                    continue
            except Exception:  # a value the fake will refuse: let it
                return None
            best = found if best is None or len(found) < len(best) else best
        if best is None:
            return None
        objects = self._objects[object_type]
        return [objects[str(i)] for i in sorted(best)]
