"""The local vendor servers of the benchmark, in a process of their own.

Why a separate process: the fakes' CPU (JSON, searching, threads) must not count as ours, and
the time our process spends waiting on their sockets is wall time, not CPU. The parent talks
to this process over stdin/stdout, one JSON object a line:

    python -m benchmarks.vendors '{"seed": 13, "accounts": 10000, "days": 60, ...}'

prints ``{"hubspot": URL, "hubspot_token": ..., "sendgrid": ..., "slack": ...}`` once the
book is seeded, then answers commands (``counts``, ``clock``, ``churn``, ``quit``).

The fakes in tests/fakes are used as they are, with faults off; three things are added here,
on the benchmark's side, because the benchmark needs them and tests do not:

* a HubSpot limit of N calls per rolling 10 s at the server, answered with HubSpot's
  ten-secondly 429 (the fake has only a per-second search limit);
* indexes behind the fake's search, unique checks and ``idProperty`` look-ups: the fake scans
  every record for each (fine for tests, hours at 100k accounts). Candidates are narrowed by
  the index, then the fake's own matching and sorting decide, so answers are the same;
* a count per endpoint of the items each call carried (search results, batch inputs, ``IN``
  values), from which the parent works out the minimum number of calls for the same work.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.sandbox.portal import SANDBOX_PIPELINES
from simulation.book import Book, generate_book
from tests.fakes.hubspot_server import _ID_SEGMENT, FakeHubSpot
from tests.fakes.hubspot_store import (
    COMPANIES,
    CONTACTS,
    DEALS,
    HubSpotStore,
    JsonDict,
    StoredObject,
    iso,
    modified_property,
)
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.slack_server import FakeSlack

TEN_SECONDS = 10.0
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


class BenchHubSpot(FakeHubSpot):
    """The fake HubSpot with a ten-secondly limit at the server and counts for the minimum."""

    def __init__(self, now: Callable[[], datetime], calls_per_10s: int | None) -> None:
        super().__init__(token="bench-hubspot-token", now=now)
        self.store = IndexedStore(now)
        self.calls_per_10s = calls_per_10s
        self._window: list[float] = []  # accepted calls in the last 10 s (monotonic)
        self._rate_lock = threading.Lock()
        self.times: list[float] = []  # wall clock (epoch) of every accepted call
        self.bench_calls: Counter[str] = Counter()
        self.bench_rejected: Counter[str] = Counter()
        self.bench_items: Counter[str] = Counter()

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes, *more: Any
    ) -> tuple[int, Any, dict[str, str]]:
        # ``more``: whatever else the fake's handler passes (fault injection, off here).
        body: Any = None
        with contextlib.suppress(ValueError):
            body = json.loads(raw) if raw else None
        endpoint = _endpoint(method, target, body)
        if self.calls_per_10s is not None:
            with self._rate_lock:
                clock = time.monotonic()
                self._window = [t for t in self._window if clock - t < TEN_SECONDS]
                if len(self._window) >= self.calls_per_10s:
                    self.bench_rejected[endpoint] += 1
                    return 429, _ten_secondly_body(), {}
                self._window.append(clock)
        status, answer, extra = super().handle(method, target, headers, raw, *more)
        with self._rate_lock:
            self.times.append(time.time())
            self.bench_calls[endpoint] += 1
            self.bench_items[endpoint] += _items(endpoint, body, answer)
        return status, answer, extra

    def seed(self, book: Book) -> None:
        """The book as a HubSpot portal, written straight into the store: the fake's seeding
        helpers check uniqueness by a scan per record (hours at 100k); the book is unique."""
        for pipeline in SANDBOX_PIPELINES[1:]:  # the renewals pipeline, as the sandbox has it
            stages = [(s.id, s.label, s.closed, s.won) for s in pipeline.stages]
            self.add_pipeline(pipeline.id, pipeline.label, stages)
        for m in book.team:
            first, _, last = m.name.partition(" ")
            self.add_owner(m.email, first, last, teams=[m.team], id=m.crm_owner_id)
        # The milestone dates a real portal keeps on deals (first_payment_date, ...), as the
        # program's setup would create them.
        for name in sorted({k for d in book.deals for k, _ in d.properties}):
            self.add_property(DEALS, name, type="date", field_type="date")
        store = self.store
        with store.lock:
            ids: dict[str, str] = {}
            for c in book.companies:
                values = {"name": c.name, "domain": c.domain, "hubspot_owner_id": c.owner_crm_id}
                ids[c.crm_id] = self._raw_create(COMPANIES, values, c.created_at, c.crm_id).id
            for p in book.contacts:
                values = {
                    "email": p.email,
                    "firstname": p.first_name,
                    "lastname": p.last_name,
                    "jobtitle": p.title,
                }
                contact = self._raw_create(CONTACTS, values, p.created_at, p.crm_id)
                store.associate(
                    CONTACTS, contact.id, COMPANIES, ids[p.company_crm_id], primary=True, at=None
                )
            for d in book.deals:
                values = {
                    "dealname": d.name,
                    "pipeline": d.pipeline_id,
                    "dealstage": d.stage_id,
                    "amount": str(d.amount),
                    **dict(d.properties),
                }
                deal = self._raw_create(DEALS, values, d.created_at, d.crm_id)
                store.associate(
                    DEALS, deal.id, COMPANIES, ids[d.company_crm_id], primary=True, at=None
                )
                self.move_deal(deal.id, d.stage_id, d.stage_entered_at)

    def _raw_create(
        self, kind: str, values: Mapping[str, Any], at: datetime, crm_id: str
    ) -> StoredObject:
        """One record under the book's own id (signals name their account by it)."""
        normalised = self.store.normalise(kind, values, strict=False)
        return self.store.create(kind, normalised, at, wanted_id=crm_id, source="CRM_UI")

    def churn(self, at: datetime, share: float, won_share: float) -> dict[str, int]:
        """A steady day's changes made by people in HubSpot: ``share`` of the open deals move
        one stage on, ``share`` of the contacts get a new title, and ``won_share`` of the
        referral deals our pushes created are won and paid 35 days ago (so rewards are due)."""
        done: Counter[str] = Counter()
        step = max(1, round(1 / share)) if share > 0 else 0
        with self.store.lock:
            deals = self.store.all_objects(DEALS)
            contacts = self.store.all_objects(CONTACTS)
        stages = self.store.pipelines.get("default", [])
        for n, deal in enumerate(deals):
            props = deal.properties
            if props.get("referral_program_id"):
                continue
            stage = props.get("dealstage")
            if step and n % step == 0 and stage in stages[:-2]:  # not the two closed stages
                self.move_deal(deal.id, stages[stages.index(stage) + 1], at)
                done["deals moved"] += 1
        for n, contact in enumerate(contacts):
            if step and n % step == 0:
                title = contact.properties.get("jobtitle") or "Manager"
                self.set_properties(CONTACTS, contact.id, {"jobtitle": f"Senior {title}"}, at)
                done["contacts edited"] += 1
        referral = [d for d in deals if d.properties.get("referral_program_id")]
        won_step = max(1, round(1 / won_share)) if won_share > 0 else 0
        paid = (at - timedelta(days=35)).date().isoformat()
        for n, deal in enumerate(referral):
            if won_step and n % won_step == 0:
                self.move_deal(deal.id, "closedwon", at)
                self.set_properties(DEALS, deal.id, {"first_payment_date": paid}, at)
                done["referral deals won and paid"] += 1
        return dict(done)

    def window_peak(self, since: float, until: float) -> int:
        """The most calls accepted in any 10 s between two wall-clock instants."""
        with self._rate_lock:
            times = [t for t in self.times if since <= t <= until]
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= TEN_SECONDS:
                start += 1
            best = max(best, end - start + 1)
        return best


def _endpoint(method: str, target: str, body: Any) -> str:
    path = target.split("?", 1)[0].rstrip("/")
    name = f"{method} {_ID_SEGMENT.sub('/{id}', path)}"
    if name.endswith("/search") and _is_lookup(body):
        name += " (lookup)"  # a search by value (IN), not a sync's page of changes
    return name


def _is_lookup(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    groups = body.get("filterGroups") or []
    return any(
        isinstance(f, dict) and f.get("operator") == "IN"
        for g in groups
        if isinstance(g, dict)
        for f in g.get("filters") or []
    )


def _items(endpoint: str, body: Any, answer: Any) -> int:
    """What one call carried: search results, IN values, batch inputs, owners listed."""
    if endpoint.endswith("(lookup)") and isinstance(body, dict):
        return sum(
            len(f.get("values") or [])
            for g in body.get("filterGroups") or []
            for f in (g or {}).get("filters") or []
            if isinstance(f, dict) and f.get("operator") == "IN"
        )
    if (endpoint.endswith("/search") or endpoint.startswith("GET /crm/v3/owners")) and isinstance(
        answer, dict
    ):
        return len(answer.get("results") or [])
    if isinstance(body, dict) and isinstance(body.get("inputs"), list):
        return len(body["inputs"])
    return 1


def _ten_secondly_body() -> JsonDict:
    return {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": "publicapi",
    }


class SimClock:
    """The portal's clock: a simulated instant the parent sets, moving on in real time (so
    records written one after another still get distinct, increasing stamps)."""

    def __init__(self) -> None:
        self._base = datetime(2026, 1, 1, tzinfo=UTC)
        self._set_at = time.monotonic()

    def set(self, instant: datetime) -> None:
        self._base, self._set_at = instant, time.monotonic()

    def __call__(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._set_at)


def counts(hubspot: BenchHubSpot, sendgrid: FakeSendGrid, slack: FakeSlack) -> JsonDict:
    with hubspot._rate_lock:
        hub = {
            "calls": dict(hubspot.bench_calls),
            "rejected": dict(hubspot.bench_rejected),
            "items": dict(hubspot.bench_items),
        }
    with sendgrid._lock:
        mail_requests = Counter(f"{r.method} {r.path}" for r in sendgrid.requests)
        accepted = len(sendgrid.mails)
    with slack._lock:
        slack_calls = Counter(c.method_name for c in slack.calls)
        channels = Counter(str(c.params.get("channel")) for c in slack.calls_to("chat.postMessage"))
    return {
        "hubspot": hub,
        "sendgrid": {"calls": dict(mail_requests), "accepted": accepted},
        "slack": {"calls": dict(slack_calls), "post_channels": dict(channels)},
        "time": time.time(),
    }


def main() -> None:
    config = json.loads(sys.argv[1])
    clock = SimClock()
    book = generate_book(
        seed=config["seed"], accounts=config["accounts"], days=config["days"], **config["team"]
    )
    hubspot = BenchHubSpot(clock, config.get("calls_per_10s"))
    hubspot.seed(book)
    sendgrid = FakeSendGrid(api_key="SG.bench-key.secret")
    slack = FakeSlack(token="xoxb-bench-token")
    for member in book.team:
        if member.slack_user_id:
            slack.add_user(member.email, member.slack_user_id)
    for extra_email, extra_id in config.get("slack_users", []):
        slack.add_user(extra_email, extra_id)
    with hubspot, sendgrid, slack:
        print(
            json.dumps(
                {
                    "hubspot": hubspot.base_url,
                    "hubspot_token": hubspot.token,
                    "sendgrid": sendgrid.base_url,
                    "sendgrid_key": sendgrid.api_key,
                    "slack": slack.base_url,
                    "slack_token": slack.token,
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            command = json.loads(line)
            name = command["cmd"]
            if name == "quit":
                break
            if name == "counts":
                answer: Any = counts(hubspot, sendgrid, slack)
            elif name == "clock":
                clock.set(datetime.fromisoformat(command["at"]))
                answer = {"ok": True}
            elif name == "churn":
                at = datetime.fromisoformat(command["at"])
                clock.set(at)
                answer = hubspot.churn(at, command["share"], command["won_share"])
            elif name == "peak":
                answer = {"peak": hubspot.window_peak(command["since"], command["until"])}
            else:
                answer = {"error": f"unknown command {name}"}
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()


__all__ = ["BenchHubSpot", "IndexedStore", "iso", "modified_property"]
