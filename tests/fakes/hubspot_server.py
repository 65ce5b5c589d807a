"""A local HubSpot CRM v3/v4 HTTP server for tests (loopback only, stdlib only).

Tests point the real ``hubspot-api-client`` at it::

    with FakeHubSpot(now=clock) as fake:
        client = HubSpot(access_token=fake.token, host=fake.base_url)

Why a server and not mocks: the adapter's bugs live in the wire format (field names, paging,
association type ids, error handling), and only the real SDK talking HTTP to something that
answers and refuses like HubSpot exercises them. The data and HubSpot's rules live in
``hubspot_store``; this module adds HTTP, authentication, canned failures, a search rate
limit and a record of every request.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.faults import RATE_LIMITED, Fault, FaultPlan, answer_spoiled
from tests.fakes.hubspot_store import (
    COMPANIES,
    CONTACTS,
    DEALS,
    MAX_ASSOCIATION_BATCH_INPUTS,
    MAX_BATCH_INPUTS,
    MAX_LIST_LIMIT,
    OBJECT_TYPE_IDS,
    SINGULAR,
    TASKS,
    HubSpotError,
    HubSpotStore,
    JsonDict,
    StageInfo,
    StoredObject,
    association_type_ids,
    error_body,
    iso,
    utc_now,
)
from tests.fakes.loopback import LoopbackServer

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it, and the status it answered."""

    method: str
    path: str
    query: dict[str, list[str]]  # as parse_qs gives it: repeated keys keep every value
    headers: dict[str, str]  # lower-case names
    json: Any  # the parsed body, or None when there was none (or it was not JSON)
    status: int


@dataclass
class _CannedFailure:
    method: str
    path_prefix: str
    status: int
    body: JsonDict | None
    headers: dict[str, str]
    remaining: int


# How a request that was performed in full can still fail its client (lose_answer_next).
LOST_ANSWER_MODES = frozenset({"timeout", "cut", "disconnect", "5xx"})


@dataclass
class _LostAnswer:
    method: str
    path_prefix: str
    mode: str  # one of LOST_ANSWER_MODES
    status: int  # for "5xx"
    hold: float  # for "timeout": seconds before the (too late) answer
    remaining: int


@dataclass(frozen=True)
class LostAnswer:
    """A request the fake performed and then answered badly (or not at all)."""

    method: str
    path: str
    mode: str
    performed_status: int  # what the request's effect answered before the answer was lost


def _default_failure_body(status: int) -> JsonDict:
    """What HubSpot sends with a status when the test does not say."""
    if status == 429:
        return {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": "publicapi",
        }
    category = {
        400: "VALIDATION_ERROR",
        401: "INVALID_AUTHENTICATION",
        403: "MISSING_SCOPES",
        404: "OBJECT_NOT_FOUND",
        409: "CONFLICT",
    }.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR")
    message = "internal error" if status >= 500 else f"canned {status} failure"
    return error_body(message, category)


def _validation(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR", extra=extra)


def _query_list(query: Mapping[str, list[str]], name: str) -> list[str]:
    """A multi-valued query parameter; HubSpot takes repeats and comma-separated lists."""
    return [part for value in query.get(name, []) for part in value.split(",") if part]


def _query_one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


Handler = Callable[[re.Match[str], dict[str, list[str]], Any], tuple[int, Any]]


class FakeHubSpot(LoopbackServer):
    name = "fake-hubspot"
    poll_interval = 0.05
    """HubSpot's CRM API on 127.0.0.1, an in-memory portal, and seeding helpers.

    ``now`` is the portal clock (create/modify stamps); tests inject one to get stable data.
    ``search_limit_per_second`` (None = unlimited) answers searches beyond that rate with
    HubSpot's secondly-limit 429, so a client-side limiter can be tested. ``faults`` (also
    settable later) injects seeded faults on every request (``tests.fakes.faults``).
    """

    def __init__(
        self,
        token: str = "test-token",
        *,
        now: Callable[[], datetime] | None = None,
        search_limit_per_second: int | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.token = token
        self.faults = faults or FaultPlan()
        self.store = HubSpotStore(now or utc_now)
        self.search_limit_per_second = search_limit_per_second
        self.requests: list[RecordedRequest] = []
        self._failures: list[_CannedFailure] = []
        self._lost: list[_LostAnswer] = []
        self.lost_answers: list[LostAnswer] = []
        self._searches: deque[float] = deque()
        self._meta_lock = threading.Lock()
        self.reverse_batch_results = False
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(pattern), handler)
            for method, pattern, handler in [
                ("POST", r"/crm/v3/objects/(?P<type>[^/]+)/search", self._search),
                ("POST", r"/crm/v3/objects/(?P<type>[^/]+)/batch/read", self._batch_read),
                ("POST", r"/crm/v3/objects/(?P<type>[^/]+)/batch/create", self._batch_create),
                ("POST", r"/crm/v3/objects/(?P<type>[^/]+)/batch/update", self._batch_update),
                ("POST", r"/crm/v3/objects/(?P<type>[^/]+)/batch/upsert", self._batch_upsert),
                ("GET", r"/crm/v3/objects/(?P<type>[^/]+)", self._list),
                ("POST", r"/crm/v3/objects/(?P<type>[^/]+)", self._create),
                ("GET", r"/crm/v3/objects/(?P<type>[^/]+)/(?P<id>[^/]+)", self._get),
                ("PATCH", r"/crm/v3/objects/(?P<type>[^/]+)/(?P<id>[^/]+)", self._update),
                (
                    "POST",
                    r"/crm/v4/associations/(?P<from>[^/]+)/(?P<to>[^/]+)/batch/read",
                    self._associations_read,
                ),
                (
                    "POST",
                    r"/crm/v4/associations/(?P<from>[^/]+)/(?P<to>[^/]+)/batch/create",
                    self._associations_create,
                ),
                (
                    "POST",
                    r"/crm/v4/associations/(?P<from>[^/]+)/(?P<to>[^/]+)/batch/associate/default",
                    self._associations_default,
                ),
                (
                    "PUT",
                    r"/crm/v4/objects/(?P<from>[^/]+)/(?P<id>[^/]+)/associations/default/"
                    r"(?P<to>[^/]+)/(?P<to_id>[^/]+)",
                    self._association_put_default,
                ),
                (
                    "GET",
                    r"/crm/v4/objects/(?P<from>[^/]+)/(?P<id>[^/]+)/associations/(?P<to>[^/]+)",
                    self._associations_of,
                ),
                ("GET", r"/crm/v3/properties/(?P<type>[^/]+)/groups", self._groups),
                ("POST", r"/crm/v3/properties/(?P<type>[^/]+)/groups", self._group_create),
                ("GET", r"/crm/v3/properties/(?P<type>[^/]+)/groups/(?P<name>[^/]+)", self._group),
                ("POST", r"/crm/v3/properties/(?P<type>[^/]+)/batch/create", self._props_create),
                ("POST", r"/crm/v3/properties/(?P<type>[^/]+)/batch/read", self._props_read),
                ("GET", r"/crm/v3/properties/(?P<type>[^/]+)", self._properties),
                ("POST", r"/crm/v3/properties/(?P<type>[^/]+)", self._property_create),
                ("GET", r"/crm/v3/properties/(?P<type>[^/]+)/(?P<name>[^/]+)", self._property),
                ("GET", r"/crm/v3/owners", self._owners),
                ("GET", r"/crm/v3/owners/(?P<id>[^/]+)", self._owner),
                ("GET", r"/crm/v3/pipelines/(?P<type>[^/]+)", self._pipelines),
                ("GET", r"/crm/v3/pipelines/(?P<type>[^/]+)/(?P<id>[^/]+)", self._pipeline),
            ]
        ]

    # -- lifecycle: LoopbackServer -------------------------------------------------------

    def on_start(self) -> None:
        self.store.base_url = self.base_url

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def pipelines(self) -> dict[str, list[str]]:
        """Deal pipeline id -> stage ids; edit freely (stage properties follow)."""
        return self.store.pipelines

    @pipelines.setter
    def pipelines(self, value: dict[str, list[str]]) -> None:
        with self.store.lock:
            self.store.pipelines = {k: list(v) for k, v in value.items()}

    # -- inspection and failure injection -----------------------------------------------------

    def calls_by_endpoint(self) -> Counter[str]:
        """``"POST /crm/v3/objects/deals/search"``-style keys, numeric ids shown as ``{id}``."""
        with self._meta_lock:
            return Counter(endpoint_key(r.method, r.path) for r in self.requests)

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (after auth passes).

        Without ``body`` the answer carries HubSpot's usual error JSON for that status (a
        ten-secondly RATE_LIMIT body for 429). ``headers`` lets a test add ``Retry-After``.
        """
        with self._meta_lock:
            self._failures.append(
                _CannedFailure(
                    method.upper(), path_prefix, status, body, dict(headers or {}), times
                )
            )

    def lose_answer_next(
        self,
        method: str,
        path_prefix: str,
        mode: str,
        *,
        times: int = 1,
        status: int = 500,
        hold: float = 1.0,
    ) -> None:
        """Perform the next ``times`` matching requests in full, then lose the answer.

        ``timeout``: hold the answer ``hold`` seconds (longer than the client's read timeout),
        then send it and close. ``cut``: the right status and a well-framed but truncated JSON
        body. ``disconnect``: close the connection without a byte of answer. ``5xx``: answer
        ``status`` (500 or 503) with HubSpot's error JSON. Each is recorded in ``lost_answers``.
        """
        if mode not in LOST_ANSWER_MODES:
            raise ValueError(f"mode must be one of {sorted(LOST_ANSWER_MODES)}, got {mode!r}")
        if mode == "5xx" and not 500 <= status <= 599:
            raise ValueError("a 5xx lost answer needs a 5xx status")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._meta_lock:
            self._lost.append(_LostAnswer(method.upper(), path_prefix, mode, status, hold, times))

    def _take_lost_answer(self, method: str, target: str) -> _LostAnswer | None:
        path = unquote(urlsplit(target).path).rstrip("/") or "/"
        with self._meta_lock:
            for lost in self._lost:
                if lost.method == method.upper() and path.startswith(lost.path_prefix):
                    lost.remaining -= 1
                    if lost.remaining <= 0:
                        self._lost.remove(lost)
                    return lost
        return None

    def _note_lost_answer(self, method: str, target: str, mode: str, status: int) -> None:
        path = unquote(urlsplit(target).path).rstrip("/") or "/"
        with self._meta_lock:
            self.lost_answers.append(LostAnswer(method.upper(), path, mode, status))

    # -- seeding helpers (no HTTP, no write validation beyond property names) ----------------

    def add_owner(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        teams: Sequence[str] = (),
        archived: bool = False,
        id: str | None = None,
    ) -> str:
        """A user who can own records; ``teams`` by name, the first one primary."""
        with self.store.lock:
            return self.store.add_owner(email, first_name, last_name, teams, archived, id)

    def add_pipeline(
        self, pipeline_id: str, label: str, stages: Sequence[tuple[str, str, bool, bool]]
    ) -> None:
        """A custom deal pipeline: stages as (id, label, closed, won), in display order."""
        with self.store.lock:
            self.store.pipelines[pipeline_id] = [stage_id for stage_id, *_ in stages]
            self.store.pipeline_labels[pipeline_id] = label
            for stage_id, stage_label, closed, won in stages:
                self.store.stages_info[stage_id] = StageInfo(stage_label, closed, won)

    def add_company(
        self,
        properties: Mapping[str, Any],
        *,
        id: str | None = None,
        updated_at: datetime | None = None,
    ) -> str:
        return self._seed(COMPANIES, properties, id, updated_at).id

    def add_contact(
        self,
        properties: Mapping[str, Any],
        *,
        company_id: str | None = None,
        id: str | None = None,
        updated_at: datetime | None = None,
    ) -> str:
        """A contact, with ``company_id`` as its primary company (and associatedcompanyid)."""
        with self.store.lock:
            contact = self._seed(CONTACTS, properties, id, updated_at)
            if company_id is not None:
                self._link(CONTACTS, contact.id, COMPANIES, company_id, True, contact.updated_at)
            return contact.id

    def add_deal(
        self,
        properties: Mapping[str, Any],
        *,
        company_id: str | None = None,
        contact_ids: Sequence[str] = (),
        id: str | None = None,
        updated_at: datetime | None = None,
    ) -> str:
        """A deal; a ``dealstage`` stamps its entry dates at ``updated_at`` (or now)."""
        with self.store.lock:
            deal = self._seed(DEALS, properties, id, updated_at)
            if company_id is not None:
                self._link(DEALS, deal.id, COMPANIES, company_id, True, deal.updated_at)
            for contact_id in contact_ids:
                self._link(DEALS, deal.id, CONTACTS, contact_id, None, deal.updated_at)
            return deal.id

    def add_task(
        self,
        properties: Mapping[str, Any],
        *,
        company_id: str | None = None,
        contact_ids: Sequence[str] = (),
        deal_ids: Sequence[str] = (),
        id: str | None = None,
        updated_at: datetime | None = None,
    ) -> str:
        with self.store.lock:
            task = self._seed(TASKS, properties, id, updated_at)
            targets = [(COMPANIES, company_id)] if company_id is not None else []
            targets += [(CONTACTS, c) for c in contact_ids] + [(DEALS, d) for d in deal_ids]
            for to_type, to_id in targets:
                self._link(TASKS, task.id, to_type, to_id, None, task.updated_at)
            return task.id

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        *,
        primary: bool | None = None,
    ) -> None:
        """Link two seeded records (``primary=True`` makes a company the primary one)."""
        with self.store.lock:
            self._link(self._type(from_type), from_id, self._type(to_type), to_id, primary, None)

    def move_deal(self, deal_id: str, stage_id: str, at: datetime) -> None:
        """Move a deal as a rep would: dealstage, both entry stamps, exit stamps, modified."""
        with self.store.lock:
            deal = self._existing(DEALS, deal_id)
            stamp = iso(at)
            values = {
                "dealstage": stage_id,
                f"hs_date_entered_{stage_id}": stamp,
                f"hs_v2_date_entered_{stage_id}": stamp,
            }
            self.store.apply(deal, self.store.normalise(DEALS, values, strict=False), at, "CRM_UI")

    def set_properties(
        self,
        object_type: str,
        id: str,
        properties: Mapping[str, Any],
        at: datetime,
    ) -> None:
        """Change properties as a person in HubSpot would (read-only ones included)."""
        with self.store.lock:
            kind = self._type(object_type)
            obj = self._existing(kind, id)
            values = self.store.normalise(kind, properties, existing=obj, strict=False)
            self._unique_or_value_error(kind, values, obj.id)
            self.store.apply(obj, values, at, "CRM_UI")

    def add_property(
        self,
        object_type: str,
        name: str,
        *,
        type: str = "string",
        field_type: str = "text",
        label: str | None = None,
        group_name: str | None = None,
        options: Sequence[tuple[str, str]] = (),
        has_unique_value: bool = False,
    ) -> None:
        """A custom property, as if created in HubSpot's settings; options are (value, label)."""
        with self.store.lock:
            kind = self._type(object_type)
            group = group_name or next(iter(self.store.groups(kind)))["name"]
            if group not in {g["name"] for g in self.store.groups(kind)}:
                self.store.create_group(kind, {"name": group, "label": group})
            try:
                self.store.create_property(
                    kind,
                    {
                        "name": name,
                        "label": label or name,
                        "type": type,
                        "fieldType": field_type,
                        "groupName": group,
                        "options": [
                            {"value": v, "label": lbl, "hidden": False} for v, lbl in options
                        ],
                        "hasUniqueValue": has_unique_value,
                    },
                )
            except HubSpotError as error:
                raise ValueError(error.message) from None

    def objects(self, object_type: str) -> dict[str, dict[str, str]]:
        """id -> current properties (only those with a value), ids ascending."""
        with self.store.lock:
            return {
                o.id: dict(o.properties) for o in self.store.all_objects(self._type(object_type))
            }

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        """Ids of ``to_type`` records associated with one record, ascending."""
        with self.store.lock:
            return list(self.store.linked(self._type(from_type), str(from_id), self._type(to_type)))

    def _type(self, name: str) -> str:
        try:
            return self.store.object_type(name)
        except HubSpotError:
            raise ValueError(f"unknown object type {name!r}") from None

    def _existing(self, object_type: str, object_id: str) -> StoredObject:
        obj = self.store.get(object_type, str(object_id))
        if obj is None:
            raise ValueError(f"no {SINGULAR[object_type]} with id {object_id}")
        return obj

    def _unique_or_value_error(
        self, object_type: str, values: Mapping[str, str | None], exclude: str | None
    ) -> None:
        try:
            self.store.check_unique(object_type, values, exclude)
        except HubSpotError as error:
            raise ValueError(error.message) from None

    def _seed(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        wanted_id: str | None,
        updated_at: datetime | None,
    ) -> StoredObject:
        with self.store.lock:
            at = updated_at or self.store.now()
            values = self.store.normalise(object_type, properties, strict=False)
            self._unique_or_value_error(object_type, values, None)
            return self.store.create(object_type, values, at, wanted_id=wanted_id, source="CRM_UI")

    def _link(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        primary: bool | None,
        at: datetime | None,
    ) -> None:
        self._existing(from_type, from_id)
        self._existing(to_type, to_id)
        if association_type_ids(from_type, to_type)[0] is None:
            raise ValueError(f"HubSpot has no association from {from_type} to {to_type}")
        self.store.associate(from_type, str(from_id), to_type, str(to_id), primary=primary, at=at)

    # -- HTTP entry point ---------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        refuse: Fault | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body or None, extra headers); records it.
        ``refuse``: a fault plan's refusal (429, 500, 503), answered once auth passed."""
        parts = urlsplit(target)
        path = unquote(parts.path).rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        json_error: json.JSONDecodeError | None = None
        if raw:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as error:
                json_error = error
        status, answer, extra = self._respond(
            method, path, query, headers, body, json_error, raw, refuse
        )
        with self._meta_lock:
            self.requests.append(RecordedRequest(method, path, query, headers, body, status))
        return status, answer, extra

    def _respond(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: Any,
        json_error: json.JSONDecodeError | None,
        raw: bytes,
        refuse: Fault | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, error_body(AUTH_MESSAGE, "INVALID_AUTHENTICATION"), {}
        if refuse is not None:
            return refuse.status, _default_failure_body(refuse.status), _refusal_headers(refuse)
        canned = self._take_failure(method, path)
        if canned is not None:
            return canned
        if method in {"POST", "PATCH", "PUT"} and raw:
            content_type = headers.get("content-type", "")
            if not content_type.lower().startswith("application/json"):
                return (
                    415,
                    error_body(f"Content type '{content_type}' not supported", "VALIDATION_ERROR"),
                    {},
                )
            if json_error is not None:
                message = (
                    f"Invalid input JSON on line {json_error.lineno}, column {json_error.colno}: "
                    f"{json_error.msg}"
                )
                return 400, error_body(message, "VALIDATION_ERROR"), {}
        path_known = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            path_known = True
            if route_method != method:
                continue
            if handler == self._search and self._search_rate_exceeded():
                return 429, self._secondly_limit_body(), {}
            with self.store.lock:
                try:
                    status, answer = handler(match, query, body)
                except HubSpotError as error:
                    return error.status, error.body(), error.headers
            return status, answer, {}
        if path_known:
            return 405, error_body(f"Method {method} not allowed on {path}", "VALIDATION_ERROR"), {}
        return 404, error_body(f"No API found for {method} {path}", "OBJECT_NOT_FOUND"), {}

    def _take_failure(self, method: str, path: str) -> tuple[int, Any, dict[str, str]] | None:
        with self._meta_lock:
            for failure in self._failures:
                if failure.method == method.upper() and path.startswith(failure.path_prefix):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    body = failure.body
                    if body is None:
                        body = _default_failure_body(failure.status)
                    return failure.status, body, dict(failure.headers)
        return None

    def _search_rate_exceeded(self) -> bool:
        limit = self.search_limit_per_second
        if limit is None:
            return False
        with self._meta_lock:
            clock = time.monotonic()
            while self._searches and clock - self._searches[0] >= 1.0:
                self._searches.popleft()
            if len(self._searches) >= limit:
                return True
            self._searches.append(clock)
            return False

    @staticmethod
    def _secondly_limit_body() -> JsonDict:
        return {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "SECONDLY",
            "groupName": "crm-search",
        }

    # -- objects ------------------------------------------------------------------------------

    def _inputs(self, body: Any, maximum: int = MAX_BATCH_INPUTS) -> list[Any]:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise _validation("Invalid input JSON: a body with an inputs list is required")
        inputs = body["inputs"]
        if len(inputs) > maximum:
            raise _validation(
                f"Batch input too large: {len(inputs)} inputs, at most {maximum} are allowed",
                context={"inputs": [str(len(inputs))]},
            )
        return inputs

    def _batch_answer(
        self, results: list[JsonDict], errors: list[JsonDict], ok_status: int = 200
    ) -> tuple[int, JsonDict]:
        """HubSpot's batch envelope; any error makes it a 207 multi-status."""
        stamp = iso(self.store.now())
        body: JsonDict = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, body
        return ok_status, body

    @staticmethod
    def _not_found_error(object_type: str, ids: list[str]) -> JsonDict:
        return {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": (
                f"Could not get some {SINGULAR[object_type].upper()} objects, they may be "
                "deleted or not exist. Check that ids are valid."
            ),
            "context": {"ids": ids},
            "links": {},
            "errors": [],
        }

    def _properties_of(self, item: Any, where: str) -> Mapping[str, Any]:
        properties = item.get("properties") if isinstance(item, dict) else None
        if not isinstance(properties, dict):
            raise _validation(f"{where}properties must be an object of property values")
        return properties

    def _require_on_create(self, object_type: str, values: Mapping[str, Any], where: str) -> None:
        if object_type == TASKS and not values.get("hs_timestamp"):
            raise _validation(f"{where}hs_timestamp is required to create a task")

    def _search(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        return 200, self.store.search(object_type, body if isinstance(body, dict) else {})

    def _batch_read(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        inputs = self._inputs(body)
        id_property = body.get("idProperty")
        results: list[JsonDict] = []
        missing: list[str] = []
        seen: set[str] = set()
        for item in inputs:
            key = str((item or {}).get("id") or "")
            obj = self.store.find_by(object_type, id_property, key) if key else None
            if obj is None:
                missing.append(key)
            elif obj.id not in seen:
                seen.add(obj.id)
                results.append(
                    self.store.object_json(
                        obj,
                        body.get("properties"),
                        with_history=body.get("propertiesWithHistory") or (),
                    )
                )
        errors = [self._not_found_error(object_type, missing)] if missing else []
        return self._batch_answer(results, errors)

    def _batch_create(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        """All-or-nothing like HubSpot: every input is checked before anything is created."""
        object_type = self.store.object_type(m["type"])
        inputs = self._inputs(body)
        planned = []
        pending: dict[tuple[str, str], str] = {}
        for i, item in enumerate(inputs):
            where = f"inputs[{i}]: "
            values = self.store.normalise(object_type, self._properties_of(item, where))
            self._require_on_create(object_type, values, where)
            for key in self.store.check_unique(object_type, values, None, pending):
                pending[key] = f"(inputs[{i}] of this batch)"
            links = self.store.check_association_specs(
                object_type, item.get("associations"), where=where
            )
            planned.append((values, links))
        now = self.store.now()
        results = []
        for values, links in planned:
            obj = self.store.create(object_type, values, now)
            for to_type, to_id, primary in links:
                self.store.associate(
                    object_type, obj.id, to_type, to_id, primary=primary or None, at=now
                )
            results.append(self.store.object_json(obj, None, all_set=True))
        if self.reverse_batch_results:  # HubSpot does not promise input order
            results.reverse()
        return self._batch_answer(results, [], ok_status=201)

    def _batch_update(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        inputs = self._inputs(body)
        ids = [str((item or {}).get("id") or "") for item in inputs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise _validation(
                f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique"
            )
        planned = []
        missing: list[str] = []
        for i, item in enumerate(inputs):
            where = f"inputs[{i}]: "
            obj = self.store.find_by(object_type, item.get("idProperty"), ids[i])
            properties = self._properties_of(item, where)
            if obj is None:
                missing.append(ids[i])
                continue
            values = self.store.normalise(object_type, properties, existing=obj)
            self.store.check_unique(object_type, values, obj.id)
            planned.append((obj, values))
        now = self.store.now()
        results = []
        for obj, values in planned:
            self.store.apply(obj, values, now)
            results.append(self.store.object_json(obj, None, all_set=True))
        errors = [self._not_found_error(object_type, missing)] if missing else []
        return self._batch_answer(results, errors)

    def _batch_upsert(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        inputs = self._inputs(body)
        planned = []
        for i, item in enumerate(inputs):
            where = f"inputs[{i}]: "
            id_property = (item or {}).get("idProperty")
            key = str((item or {}).get("id") or "")
            if not id_property or not key:
                raise _validation(f"{where}upsert needs id and idProperty")
            obj = self.store.find_by(object_type, id_property, key)
            properties = dict(self._properties_of(item, where))
            if obj is None:
                properties.setdefault(id_property, key)
            values = self.store.normalise(object_type, properties, existing=obj)
            if obj is None:
                self._require_on_create(object_type, values, where)
            self.store.check_unique(object_type, values, obj.id if obj else None)
            planned.append((obj, values))
        now = self.store.now()
        results = []
        for obj, values in planned:
            created = obj is None
            if obj is None:
                obj = self.store.create(object_type, values, now)
            else:
                self.store.apply(obj, values, now)
            results.append({**self.store.object_json(obj, None, all_set=True), "new": created})
        return self._batch_answer(results, [])

    def _create(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        values = self.store.normalise(object_type, self._properties_of(body, ""))
        self._require_on_create(object_type, values, "")
        self.store.check_unique(object_type, values, None)
        links = self.store.check_association_specs(object_type, body.get("associations"), where="")
        now = self.store.now()
        obj = self.store.create(object_type, values, now)
        for to_type, to_id, primary in links:
            self.store.associate(
                object_type, obj.id, to_type, to_id, primary=primary or None, at=now
            )
        return 201, self.store.object_json(obj, None, all_set=True)

    def _found(self, object_type: str, key: str, query: Mapping[str, list[str]]) -> StoredObject:
        obj = self.store.find_by(object_type, _query_one(query, "idProperty"), key)
        if obj is None:
            raise HubSpotError(
                404,
                "Object not found.  objectId are usually numeric.",
                "OBJECT_NOT_FOUND",
                extra={"context": {"id": [key]}},
            )
        return obj

    def _get(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        obj = self._found(object_type, m["id"], query)
        return 200, self.store.object_json(
            obj,
            _query_list(query, "properties"),
            with_history=_query_list(query, "propertiesWithHistory"),
            associations=_query_list(query, "associations"),
        )

    def _update(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        obj = self._found(object_type, m["id"], query)
        values = self.store.normalise(object_type, self._properties_of(body, ""), existing=obj)
        self.store.check_unique(object_type, values, obj.id)
        self.store.apply(obj, values, self.store.now())
        return 200, self.store.object_json(obj, None, all_set=True)

    def _list(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        limit_text = _query_one(query, "limit") or "10"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIST_LIMIT:
            raise _validation(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit_text}")
        limit = int(limit_text)
        after = _query_one(query, "after") or "0"
        if not after.isdigit():
            raise _validation(f"after must be a record id cursor, got {after!r}")
        remaining = [o for o in self.store.all_objects(object_type) if int(o.id) >= int(after)]
        page = remaining[:limit]
        answer: JsonDict = {
            "results": [
                self.store.object_json(
                    o,
                    _query_list(query, "properties"),
                    associations=_query_list(query, "associations"),
                )
                for o in page
            ]
        }
        if len(remaining) > limit:
            cursor = remaining[limit].id
            answer["paging"] = {
                "next": {
                    "after": cursor,
                    "link": f"{self.base_url}/crm/v3/objects/{object_type}?after={cursor}",
                }
            }
        return 200, answer

    # -- associations (v4) --------------------------------------------------------------------

    def _pair(self, m: re.Match[str]) -> tuple[str, str, int, int | None]:
        from_type = self.store.object_type(m["from"])
        to_type = self.store.object_type(m["to"])
        unlabeled, primary = association_type_ids(from_type, to_type)
        if unlabeled is None:
            raise _validation(
                f"Associations from {SINGULAR[from_type]} to {SINGULAR[to_type]} are not supported"
            )
        return from_type, to_type, unlabeled, primary

    def _associations_read(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        from_type, to_type, _, _ = self._pair(m)
        inputs = self._inputs(body, MAX_ASSOCIATION_BATCH_INPUTS)
        results: list[JsonDict] = []
        errors: list[JsonDict] = []
        for item in inputs:
            from_id = str((item or {}).get("id") or "")
            linked = self.store.linked(from_type, from_id, to_type)
            if not linked:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "message": (
                            f"No {SINGULAR[to_type]} is associated with "
                            f"{SINGULAR[from_type]} {from_id}."
                        ),
                        "context": {
                            "fromObjectId": [from_id],
                            "fromObjectType": [SINGULAR[from_type]],
                            "toObjectType": [SINGULAR[to_type]],
                        },
                        "links": {},
                        "errors": [],
                    }
                )
                continue
            results.append(
                {
                    "from": {"id": from_id},
                    "to": [
                        {
                            "toObjectId": int(to_id),
                            "associationTypes": self.store.association_types_json(
                                from_type, to_type, primary
                            ),
                        }
                        for to_id, primary in linked.items()
                    ],
                }
            )
        return self._batch_answer(results, errors)

    def _ends(self, from_type: str, to_type: str, item: Any, where: str) -> tuple[str, str]:
        from_id = str(((item or {}).get("from") or {}).get("id") or "")
        to_id = str(((item or {}).get("to") or {}).get("id") or "")
        for kind, key in ((from_type, from_id), (to_type, to_id)):
            if self.store.get(kind, key) is None:
                raise _validation(
                    f"{where}{SINGULAR[kind]} {key or '(no id)'} does not exist",
                    context={"objectId": [key]},
                )
        return from_id, to_id

    def _associations_create(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        from_type, to_type, _, _ = self._pair(m)
        inputs = self._inputs(body, MAX_ASSOCIATION_BATCH_INPUTS)
        planned = []
        for i, item in enumerate(inputs):
            where = f"inputs[{i}]: "
            from_id, to_id = self._ends(from_type, to_type, item, where)
            links = self.store.check_association_specs(
                from_type, [{"to": {"id": to_id}, "types": (item or {}).get("types")}], where=where
            )
            if links[0][0] != to_type:
                raise _validation(f"{where}association types do not lead to {SINGULAR[to_type]}")
            planned.append((from_id, to_id, links[0][2]))
        now = self.store.now()
        results = []
        for from_id, to_id, primary in planned:
            self.store.associate(
                from_type, from_id, to_type, to_id, primary=primary or None, at=now
            )
            is_primary = self.store.linked(from_type, from_id, to_type)[to_id]
            results.append(
                {
                    "fromObjectTypeId": OBJECT_TYPE_IDS[from_type],
                    "fromObjectId": int(from_id),
                    "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
                    "toObjectId": int(to_id),
                    "labels": ["Primary"] if is_primary else [],
                }
            )
        return self._batch_answer(results, [], ok_status=201)

    def _default_result(self, from_id: str, to_id: str, unlabeled: int) -> JsonDict:
        return {
            "from": {"id": from_id},
            "to": {"id": to_id},
            "associationSpec": {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": unlabeled,
            },
        }

    def _associations_default(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        from_type, to_type, unlabeled, _ = self._pair(m)
        inputs = self._inputs(body, MAX_ASSOCIATION_BATCH_INPUTS)
        pairs = [
            self._ends(from_type, to_type, item, f"inputs[{i}]: ") for i, item in enumerate(inputs)
        ]
        now = self.store.now()
        for from_id, to_id in pairs:
            self.store.associate(from_type, from_id, to_type, to_id, at=now)
        return self._batch_answer([self._default_result(f, t, unlabeled) for f, t in pairs], [])

    def _association_put_default(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        from_type, to_type, unlabeled, _ = self._pair(m)
        from_id, to_id = self._ends(
            from_type, to_type, {"from": {"id": m["id"]}, "to": {"id": m["to_id"]}}, ""
        )
        self.store.associate(from_type, from_id, to_type, to_id, at=self.store.now())
        return self._batch_answer([self._default_result(from_id, to_id, unlabeled)], [])

    def _associations_of(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        from_type, to_type, _, _ = self._pair(m)
        linked = self.store.linked(from_type, m["id"], to_type)
        return 200, {
            "results": [
                {
                    "toObjectId": int(to_id),
                    "associationTypes": self.store.association_types_json(
                        from_type, to_type, primary
                    ),
                }
                for to_id, primary in linked.items()
            ]
        }

    # -- properties ---------------------------------------------------------------------------

    def _properties(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        return 200, {"results": [d.to_json() for d in self.store.definitions(object_type).values()]}

    def _property(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        definition = self.store.definitions(object_type).get(m["name"])
        if definition is None:
            raise HubSpotError(
                404,
                f"Unable to find property {m['name']} for object type "
                f"{OBJECT_TYPE_IDS[object_type]}",
                "OBJECT_NOT_FOUND",
            )
        return 200, definition.to_json()

    def _property_create(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        if not isinstance(body, dict):
            raise _validation("Invalid input JSON: a property definition is required")
        return 201, self.store.create_property(object_type, body).to_json()

    def _props_create(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        """Existing names come back as per-input errors (207); other problems fail it all."""
        object_type = self.store.object_type(m["type"])
        inputs = self._inputs(body)
        results: list[JsonDict] = []
        errors: list[JsonDict] = []
        for spec in inputs:
            try:
                results.append(self.store.create_property(object_type, spec or {}).to_json())
            except HubSpotError as error:
                if error.status != 409:
                    raise
                errors.append(
                    {
                        "status": "error",
                        "category": error.category,
                        "message": error.message,
                        "context": {"name": [str((spec or {}).get("name"))]},
                        "links": {},
                        "errors": [],
                    }
                )
        return self._batch_answer(results, errors, ok_status=201)

    def _props_read(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        defs = self.store.definitions(object_type)
        names = [str((item or {}).get("name") or "") for item in self._inputs(body)]
        results = [defs[n].to_json() for n in names if n in defs]
        missing = [n for n in names if n not in defs]
        errors = (
            [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Unable to find properties {missing}",
                    "context": {"names": missing},
                    "links": {},
                    "errors": [],
                }
            ]
            if missing
            else []
        )
        return self._batch_answer(results, errors)

    def _groups(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        return 200, {"results": self.store.groups(self.store.object_type(m["type"]))}

    def _group(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        return 200, self.store.group(self.store.object_type(m["type"]), m["name"])

    def _group_create(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        object_type = self.store.object_type(m["type"])
        if not isinstance(body, dict):
            raise _validation("Invalid input JSON: a property group is required")
        return 201, self.store.create_group(object_type, body)

    # -- pipelines ----------------------------------------------------------------------------

    def _owners(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        limit_text = _query_one(query, "limit") or "100"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
            raise _validation("limit must be between 1 and 500")
        archived = (_query_one(query, "archived") or "false").lower() == "true"
        after = _query_one(query, "after")
        if after is not None and not after.isdigit():
            raise _validation(f"Invalid paging cursor {after!r}")
        return 200, self.store.owners_page(
            _query_one(query, "email"), after, int(limit_text), archived
        )

    def _owner(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        owner = self.store.owners.get(m["id"])
        if owner is None:
            raise HubSpotError(404, f"Owner {m['id']} not found", "OBJECT_NOT_FOUND")
        return 200, dict(owner)

    def _pipeline_type(self, m: re.Match[str]) -> str:
        object_type = self.store.object_type(m["type"])
        if object_type != DEALS:
            raise _validation(f"Object type {SINGULAR[object_type]} does not have pipelines")
        return object_type

    def _pipelines(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        self._pipeline_type(m)
        return 200, {
            "results": [
                self.store.pipeline_json(pid, order)
                for order, pid in enumerate(self.store.pipelines)
            ]
        }

    def _pipeline(self, m: re.Match[str], query: Any, body: Any) -> tuple[int, Any]:
        self._pipeline_type(m)
        pipeline_id = m["id"]
        if pipeline_id not in self.store.pipelines:
            raise HubSpotError(
                404, f"Unable to find pipeline {pipeline_id} for deals", "OBJECT_NOT_FOUND"
            )
        return 200, self.store.pipeline_json(
            pipeline_id, list(self.store.pipelines).index(pipeline_id)
        )


class _Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 plumbing; every answer is JSON in HubSpot's headers."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections close after this; urllib3 reconnects
    fake: FakeHubSpot

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output should show test failures, not access logs."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        lost = self.fake._take_lost_answer(self.command, self.path)
        # A canned lost answer is what the test asked for: no random fault on top of it.
        path = unquote(urlsplit(self.path).path).rstrip("/") or "/"
        fault = None if lost else self.fake.faults.draw(endpoint_key(self.command, path))
        refusal = fault if fault is not None and not fault.performs else None
        status, body, extra = self.fake.handle(self.command, self.path, headers, raw, refusal)
        payload = b"" if body is None else json.dumps(body).encode()
        if fault is not None and fault.performs:
            self.close_connection = True  # whatever the client saw, this connection is spent
            answer_spoiled(fault, lambda b, n: self._answer(status, b, extra, n), payload)
            return
        if lost is None:
            self._answer(status, payload, extra)
            return
        self.fake._note_lost_answer(self.command, self.path, lost.mode, status)
        self.close_connection = True  # whatever the client saw, this connection is spent
        if lost.mode == "disconnect":
            return
        if lost.mode == "5xx":
            failure = _default_failure_body(lost.status)
            self._answer(lost.status, json.dumps(failure).encode(), {})
        elif lost.mode == "cut":
            self._answer(status, payload[: len(payload) // 2], extra)
        else:  # timeout: the client gave up before this arrives
            time.sleep(lost.hold)
            with contextlib.suppress(OSError):  # the client may have hung up already
                self._answer(status, payload, extra)

    def _answer(
        self, status: int, payload: bytes, extra: Mapping[str, str], length: int | None = None
    ) -> None:
        """``length``: the Content-Length to announce when it is not the payload's (a cut)."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload) if length is None else length))
        self.send_header("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
        if status != 429 and "/search" not in self.path:  # search answers carry no limits
            self.send_header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
            self.send_header("X-HubSpot-RateLimit-Max", "190")
            self.send_header("X-HubSpot-RateLimit-Remaining", "189")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


def endpoint_key(method: str, path: str) -> str:
    """``"POST /crm/v3/objects/deals/search"``-style, numeric ids shown as ``{id}``: how
    calls are counted and how a fault plan names endpoints."""
    return f"{method.upper()} {_ID_SEGMENT.sub('/{id}', path)}"


def _refusal_headers(fault: Fault) -> dict[str, str]:
    """A 429 says when to come back, and the ten-secondly window it ran out of."""
    if fault.kind != RATE_LIMITED:
        return {}
    return {
        "Retry-After": "1",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "0",
    }


FakeHubSpot.handler_class = _Handler
