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
* indexes behind the fake's search, unique checks and ``idProperty`` look-ups
  (benchmarks/hubspot_index.py): the fake scans every record for each (fine for tests,
  hours at 100k accounts); the answers stay the fake's own;
* a count per endpoint of the items each call carried (search results, batch inputs, ``IN``
  values), from which the parent works out the minimum number of calls for the same work.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.hubspot_index import IndexedStore
from integrations.sandbox.portal import SANDBOX_PIPELINES
from simulation.book import Book, generate_book
from tests.fakes.hubspot_server import _ID_SEGMENT, FakeHubSpot
from tests.fakes.hubspot_store import (
    COMPANIES,
    CONTACTS,
    DEALS,
    JsonDict,
    StoredObject,
    iso,
    modified_property,
)
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.slack_server import FakeSlack

TEN_SECONDS = 10.0


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
