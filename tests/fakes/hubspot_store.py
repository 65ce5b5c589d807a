"""In-memory HubSpot CRM data and the rules HubSpot applies to it.

This is the half of the fake HubSpot that knows nothing about HTTP: objects, property
definitions, associations, deal pipelines, and how HubSpot validates writes and evaluates
searches. ``hubspot_server`` puts it behind HubSpot's v3/v4 wire format.

The point is to catch adapter bugs, so the store refuses what HubSpot refuses (unknown or
read-only properties, bad enumeration options, duplicate contact emails, wrong association
type ids, oversized batches and searches) and answers in HubSpot's JSON shapes, which the real
``hubspot-api-client`` deserialises. Behaviour that HubSpot documents only loosely is marked
"(choice)" where it is defined.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.stages import DEFAULT_PIPELINE_ID, HUBSPOT_DEFAULT_STAGES

JsonDict = dict[str, Any]

COMPANIES, CONTACTS, DEALS, TASKS = "companies", "contacts", "deals", "tasks"
OBJECT_TYPES = (COMPANIES, CONTACTS, DEALS, TASKS)
OBJECT_TYPE_IDS = {CONTACTS: "0-1", COMPANIES: "0-2", DEALS: "0-3", TASKS: "0-27"}
SINGULAR = {COMPANIES: "company", CONTACTS: "contact", DEALS: "deal", TASKS: "task"}
# HubSpot accepts the plural name, the singular name and the object type id in paths.
_ALIASES = {
    **{t: t for t in OBJECT_TYPES},
    **{s: t for t, s in SINGULAR.items()},
    **{i: t for t, i in OBJECT_TYPE_IDS.items()},
}

# HubSpot's documented limits.
MAX_BATCH_INPUTS = 100  # v3 object batch read/create/update/upsert
MAX_ASSOCIATION_BATCH_INPUTS = 1000  # v4 association batch read/create
MAX_SEARCH_LIMIT = 200  # per search page
MAX_SEARCH_RESULTS = 10_000  # a search cannot page past this many results
MAX_LIST_LIMIT = 100  # GET /crm/v3/objects/{type}
# "Search the CRM" limits: five filter groups, six filters per group, 18 filters in all. An
# August 2024 changelog announced 10 per group / 25 in all; the stricter documented set is
# used so an adapter that passes here passes against either.
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS_TOTAL = 18

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)


@dataclass(frozen=True)
class AssociationType:
    """One HubSpot-defined association type: a direction between two object types."""

    type_id: int
    from_type: str
    to_type: str
    primary: bool = False


# HubSpot-defined association type ids (checked against HubSpot's v4 docs and the SDK's
# ``hubspot.crm.association_type.AssociationType``). "Primary" types exist only between
# contacts/deals and companies; every association also carries the unlabeled type.
ASSOCIATION_TYPES: tuple[AssociationType, ...] = (
    AssociationType(1, CONTACTS, COMPANIES, primary=True),
    AssociationType(279, CONTACTS, COMPANIES),
    AssociationType(2, COMPANIES, CONTACTS, primary=True),
    AssociationType(280, COMPANIES, CONTACTS),
    AssociationType(5, DEALS, COMPANIES, primary=True),
    AssociationType(341, DEALS, COMPANIES),
    AssociationType(6, COMPANIES, DEALS, primary=True),
    AssociationType(342, COMPANIES, DEALS),
    AssociationType(3, DEALS, CONTACTS),
    AssociationType(4, CONTACTS, DEALS),
    AssociationType(192, TASKS, COMPANIES),
    AssociationType(191, COMPANIES, TASKS),
    AssociationType(204, TASKS, CONTACTS),
    AssociationType(203, CONTACTS, TASKS),
    AssociationType(216, TASKS, DEALS),
    AssociationType(215, DEALS, TASKS),
)
_ASSOCIATION_BY_ID = {a.type_id: a for a in ASSOCIATION_TYPES}


def association_type_ids(from_type: str, to_type: str) -> tuple[int | None, int | None]:
    """(unlabeled type id, primary type id or None) for a direction; (None, None) if none."""
    unlabeled = primary = None
    for a in ASSOCIATION_TYPES:
        if a.from_type == from_type and a.to_type == to_type:
            if a.primary:
                primary = a.type_id
            else:
                unlabeled = a.type_id
    return unlabeled, primary


# ---------------------------------------------------------------------------------------------
# Errors and time


class HubSpotError(Exception):
    """A refusal in HubSpot's error shape; the server turns it into the HTTP response."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> JsonDict:
        return error_body(self.message, self.category, **self.extra)


def error_body(message: str, category: str, **extra: Any) -> JsonDict:
    """HubSpot's error JSON: ``{status: "error", message, correlationId, category, ...}``."""
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


def _validation(message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR", extra=extra)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime) -> str:
    """HubSpot's v3 datetime text: UTC, milliseconds, ``Z`` (2026-03-02T09:00:00.000Z)."""
    dt = _aware(dt)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def parse_instant(value: str) -> datetime | None:
    """Milliseconds since the epoch, ISO 8601 or a bare date (midnight UTC); None if neither."""
    text = value.strip()
    if not text:
        return None
    try:
        if re.fullmatch(r"-?\d+", text):
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError, OSError):
        return None


def _epoch_ms(dt: datetime) -> int:
    return int(_aware(dt).timestamp() * 1000)


# ---------------------------------------------------------------------------------------------
# Property definitions


@dataclass
class PropertyDef:
    """One property definition, shaped for the SDK's ``Property`` model by ``to_json``."""

    name: str
    label: str
    type: str  # string | number | date | datetime | enumeration | bool
    field_type: str
    group_name: str
    options: list[JsonDict] = field(default_factory=list)
    description: str = ""
    hubspot_defined: bool = True
    read_only: bool = False
    calculated: bool = False
    has_unique_value: bool = False
    external_options: bool = False
    display_order: int = -1
    form_field: bool = False
    created_at: datetime | None = None

    def option_values(self) -> set[str]:
        return {str(o["value"]) for o in self.options}

    def to_json(self) -> JsonDict:
        stamp = iso(self.created_at or datetime(2020, 1, 1, tzinfo=UTC))
        body: JsonDict = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "formField": self.form_field,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        return body


def _options(pairs: Iterable[tuple[str, str]]) -> list[JsonDict]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False, "description": ""}
        for i, (value, label) in enumerate(pairs)
    ]


def _codes(*values: str) -> list[JsonDict]:
    return _options((v, v.replace("_", " ").title()) for v in values)


LIFECYCLE_STAGES = _options(
    [
        ("subscriber", "Subscriber"),
        ("lead", "Lead"),
        ("marketingqualifiedlead", "Marketing Qualified Lead"),
        ("salesqualifiedlead", "Sales Qualified Lead"),
        ("opportunity", "Opportunity"),
        ("customer", "Customer"),
        ("evangelist", "Evangelist"),
        ("other", "Other"),
    ]
)
INDUSTRIES = _codes(
    "ACCOUNTING",
    "BANKING",
    "BIOTECHNOLOGY",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "CONSUMER_GOODS",
    "EDUCATION_MANAGEMENT",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE",
    "INTERNET",
    "LEGAL_SERVICES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "MANAGEMENT_CONSULTING",
    "MARKETING_AND_ADVERTISING",
    "REAL_ESTATE",
    "RETAIL",
    "STAFFING_AND_RECRUITING",
    "TELECOMMUNICATIONS",
)
LEAD_STATUSES = _codes(
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
ANALYTICS_SOURCES = _codes(
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "OTHER_CAMPAIGNS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
    "PAID_SOCIAL",
    "AI_REFERRALS",
)
CURRENCIES = _options(
    (c, c) for c in ("USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "DKK", "SGD")
)
TASK_STATUSES = _codes("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED")
TASK_PRIORITIES = _codes("NONE", "LOW", "MEDIUM", "HIGH")
TASK_TYPES = _codes("TODO", "CALL", "EMAIL", "LINKED_IN_CONNECT", "LINKED_IN_MESSAGE")

BUILTIN_GROUPS: dict[str, tuple[str, str]] = {
    COMPANIES: ("companyinformation", "Company information"),
    CONTACTS: ("contactinformation", "Contact information"),
    DEALS: ("dealinformation", "Deal information"),
    TASKS: ("taskinformation", "Task information"),
}


def created_property(object_type: str) -> str:
    """Tasks (engagements) carry ``hs_createdate``; CRM records carry ``createdate``."""
    return "hs_createdate" if object_type == TASKS else "createdate"


def modified_property(object_type: str) -> str:
    """Contacts keep ``lastmodifieddate``; every other object ``hs_lastmodifieddate``."""
    return "lastmodifieddate" if object_type == CONTACTS else "hs_lastmodifieddate"


# What HubSpot returns when a read names no properties (its documented default sets).
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    COMPANIES: ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    CONTACTS: ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    DEALS: (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    TASKS: ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
# Free-text ``query`` in a search looks at these.
QUERY_PROPERTIES: dict[str, tuple[str, ...]] = {
    COMPANIES: ("name", "domain", "website", "phone"),
    CONTACTS: ("firstname", "lastname", "email", "phone", "company"),
    DEALS: ("dealname",),
    TASKS: ("hs_task_subject", "hs_task_body"),
}

_STAGE_LABELS = {
    "appointmentscheduled": "Appointment Scheduled",
    "qualifiedtobuy": "Qualified To Buy",
    "presentationscheduled": "Presentation Scheduled",
    "decisionmakerboughtin": "Decision Maker Bought-In",
    "contractsent": "Contract Sent",
    "closedwon": "Closed Won",
    "closedlost": "Closed Lost",
    "referralintroduction": "Referral Introduction",
    "leadcaptured": "Lead Captured",
    "onboarding": "Onboarding",
    "firstpayment": "First Payment",
}


def stage_label(stage_id: str, custom: Mapping[str, StageInfo] | None = None) -> str:
    if custom and stage_id in custom:
        return custom[stage_id].label
    return _STAGE_LABELS.get(stage_id, stage_id.replace("_", " ").title())


def stage_state(stage_id: str, custom: Mapping[str, StageInfo] | None = None) -> tuple[bool, bool]:
    """(is closed, is won) for a stage id; HubSpot's defaults ``closedwon``/``closedlost``,
    or what a custom pipeline's stage says."""
    if custom and stage_id in custom:
        return custom[stage_id].closed, custom[stage_id].won
    if stage_id == "closedwon":
        return True, True
    return stage_id == "closedlost", False


@dataclass(frozen=True)
class StageInfo:
    """A custom pipeline stage's label and flags (HubSpot's defaults need none)."""

    label: str
    closed: bool = False
    won: bool = False


def _builtin_definitions(
    object_type: str,
    pipelines: Mapping[str, Sequence[str]],
    stages_info: Mapping[str, StageInfo] | None = None,
    pipeline_labels: Mapping[str, str] | None = None,
) -> list[PropertyDef]:
    group = BUILTIN_GROUPS[object_type][0]

    def p(name: str, label: str, type_: str = "string", field_type: str = "text", **kw: Any):
        return PropertyDef(name, label, type_, field_type, group, **kw)

    owner = p("hubspot_owner_id", "Owner", "enumeration", "select", external_options=True)
    common = [
        p("hs_object_id", "Record ID", "number", "number", read_only=True),
        p(modified_property(object_type), "Last Modified Date", "datetime", "date", read_only=True),
        p(created_property(object_type), "Create Date", "datetime", "date"),
        owner,
    ]
    if object_type == COMPANIES:
        return [
            *common,
            p("name", "Company name", form_field=True),
            p("domain", "Company Domain Name", form_field=True),
            p("website", "Website URL"),
            p("industry", "Industry", "enumeration", "select", options=INDUSTRIES),
            p(
                "lifecyclestage",
                "Lifecycle Stage",
                "enumeration",
                "radio",
                options=LIFECYCLE_STAGES,
            ),
            p("phone", "Phone Number"),
            p("city", "City"),
            p("state", "State/Region"),
            p("country", "Country/Region"),
            p("numberofemployees", "Number of Employees", "number", "number"),
            p("annualrevenue", "Annual Revenue", "number", "number"),
            p("description", "Description", field_type="textarea"),
        ]
    if object_type == CONTACTS:
        return [
            *common,
            p("email", "Email", form_field=True),
            p("firstname", "First Name", form_field=True),
            p("lastname", "Last Name", form_field=True),
            p("jobtitle", "Job Title"),
            p("company", "Company Name"),
            p("phone", "Phone Number"),
            p("associatedcompanyid", "Primary Associated Company ID", "number", "number"),
            p(
                "hs_email_optout",
                "Unsubscribed from all email",
                "bool",
                "booleancheckbox",
                options=_options([("true", "Yes"), ("false", "No")]),
            ),
            p(
                "lifecyclestage",
                "Lifecycle Stage",
                "enumeration",
                "radio",
                options=LIFECYCLE_STAGES,
            ),
            p("hs_lead_status", "Lead Status", "enumeration", "radio", options=LEAD_STATUSES),
        ]
    if object_type == DEALS:
        stages = [s for ids in pipelines.values() for s in ids]
        per_stage = [
            p(
                f"{prefix}{stage}",
                f"{label} {stage_label(stage, stages_info)}",
                "datetime",
                "date",
                read_only=True,
                calculated=True,
            )
            for stage in dict.fromkeys(stages)
            for prefix, label in (
                ("hs_date_entered_", "Date entered"),
                ("hs_date_exited_", "Date exited"),
                ("hs_v2_date_entered_", "Date entered"),
                ("hs_v2_date_exited_", "Date exited"),
            )
        ]
        return [
            *common,
            p("dealname", "Deal Name", form_field=True),
            p("amount", "Amount", "number", "number"),
            p(
                "pipeline",
                "Pipeline",
                "enumeration",
                "select",
                options=_options(
                    (pid, (pipeline_labels or {}).get(pid) or pipeline_label(pid))
                    for pid in pipelines
                ),
            ),
            p(
                "dealstage",
                "Deal Stage",
                "enumeration",
                "radio",
                options=_options((s, stage_label(s, stages_info)) for s in dict.fromkeys(stages)),
            ),
            p("closedate", "Close Date", "datetime", "date"),
            p(
                "dealtype",
                "Deal Type",
                "enumeration",
                "radio",
                options=_options(
                    [("newbusiness", "New Business"), ("existingbusiness", "Existing Business")]
                ),
            ),
            p("description", "Deal Description", field_type="textarea"),
            p("deal_currency_code", "Currency", "enumeration", "select", options=CURRENCIES),
            p(
                "hs_analytics_source",
                "Original Source Type",
                "enumeration",
                "select",
                options=ANALYTICS_SOURCES,
                read_only=True,
                calculated=True,
            ),
            p(
                "hs_is_closed",
                "Is Deal Closed?",
                "bool",
                "booleancheckbox",
                read_only=True,
                calculated=True,
            ),
            p(
                "hs_is_closed_won",
                "Is Closed Won",
                "bool",
                "booleancheckbox",
                read_only=True,
                calculated=True,
            ),
            p(
                "hs_deal_stage_probability",
                "Deal probability",
                "number",
                "number",
                read_only=True,
                calculated=True,
            ),
            *per_stage,
        ]
    return [
        *common,
        p("hs_task_subject", "Task Title"),
        p("hs_task_body", "Task notes", field_type="textarea"),
        p("hs_task_status", "Task Status", "enumeration", "select", options=TASK_STATUSES),
        p("hs_task_priority", "Priority", "enumeration", "select", options=TASK_PRIORITIES),
        p("hs_task_type", "Task Type", "enumeration", "select", options=TASK_TYPES),
        p("hs_timestamp", "Due date", "datetime", "date"),
        p(
            "hs_task_completion_date",
            "Completed at",
            "datetime",
            "date",
            read_only=True,
            calculated=True,
        ),
    ]


def pipeline_label(pipeline_id: str) -> str:
    return "Sales Pipeline" if pipeline_id == DEFAULT_PIPELINE_ID else pipeline_id


# Which property types each field type may be used with (HubSpot's pairing rules).
_FIELD_TYPES = {
    "string": {"text", "textarea", "file", "html", "phonenumber"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "bool": {"booleancheckbox", "calculation_equation"},
}
_PROPERTY_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# ---------------------------------------------------------------------------------------------
# Objects


@dataclass
class StoredObject:
    id: str
    object_type: str
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    history: dict[str, list[JsonDict]] = field(default_factory=dict)


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class HubSpotStore:
    """All CRM state of one fake portal. Callers hold ``lock`` around every operation."""

    def __init__(self, now: Callable[[], datetime] = utc_now) -> None:
        self.lock = threading.RLock()
        self._now = now
        self.base_url = ""
        self.pipelines: dict[str, list[str]] = {DEFAULT_PIPELINE_ID: list(HUBSPOT_DEFAULT_STAGES)}
        self.pipeline_labels: dict[str, str] = {}
        self.stages_info: dict[str, StageInfo] = {}  # custom stages: label, closed, won
        self.owners: dict[str, JsonDict] = {}  # id -> HubSpot's owner JSON
        self._objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
        self._next_id = 1001  # one sequence for all types, so a contact id is never a company id
        self._custom: dict[str, dict[str, PropertyDef]] = {t: {} for t in OBJECT_TYPES}
        self._groups: dict[str, dict[str, JsonDict]] = {
            t: {name: {"name": name, "label": label, "displayOrder": -1, "archived": False}}
            for t, (name, label) in BUILTIN_GROUPS.items()
        }
        # Adjacency in both directions: (type, id) -> (other type, other id) -> primary?
        self._links: dict[tuple[str, str], dict[tuple[str, str], bool]] = {}

    # -- basics -------------------------------------------------------------------------------

    def now(self) -> datetime:
        return _aware(self._now())

    def object_type(self, name: str) -> str:
        """Canonical plural type for a path segment, as HubSpot infers it; 400 otherwise."""
        found = _ALIASES.get(name.lower())
        if found is None:
            raise _validation(f"Unable to infer object type from: {name}")
        return found

    def definitions(self, object_type: str) -> dict[str, PropertyDef]:
        builtin = {
            d.name: d
            for d in _builtin_definitions(
                object_type, self.pipelines, self.stages_info, self.pipeline_labels
            )
        }
        return {**builtin, **self._custom[object_type]}

    def get(self, object_type: str, object_id: str) -> StoredObject | None:
        return self._objects[object_type].get(str(object_id))

    def all_objects(self, object_type: str) -> list[StoredObject]:
        return sorted(self._objects[object_type].values(), key=lambda o: int(o.id))

    def _new_id(self, wanted: str | None) -> str:
        if wanted is None:
            value = self._next_id
        else:
            if not str(wanted).isdigit():
                raise ValueError(f"HubSpot ids are numeric strings, got {wanted!r}")
            value = int(wanted)
            if any(str(value) in objs for objs in self._objects.values()):
                raise ValueError(f"id {value} is already used")
        self._next_id = max(self._next_id, value + 1)
        return str(value)

    # -- writing properties -------------------------------------------------------------------

    def normalise(
        self,
        object_type: str,
        values: Mapping[str, Any],
        *,
        existing: StoredObject | None = None,
        strict: bool = True,
    ) -> dict[str, str | None]:
        """Check and normalise property values as HubSpot does on create/update.

        ``strict`` (HTTP writes) refuses unknown and read-only properties and invalid values
        with HubSpot's 400 "Property values were not valid". Seeding helpers pass
        ``strict=False``: unknown names still fail (a typo in a test), but odd values are
        stored as given so tests can feed an adapter bad data. ``None`` or "" clears.
        """
        defs = self.definitions(object_type)
        errors: list[JsonDict] = []
        out: dict[str, str | None] = {}

        def fail(name: str, code: str, message: str) -> None:
            errors.append(
                {
                    "isValid": False,
                    "message": message,
                    "error": code,
                    "name": name,
                    "localizedErrorMessage": message,
                }
            )

        for name, raw in values.items():
            definition = defs.get(name)
            if definition is None:
                if not strict:
                    raise ValueError(f"{object_type} has no property {name!r}")
                fail(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                continue
            if strict and definition.read_only:
                fail(
                    name,
                    "READ_ONLY_VALUE",
                    f"{name} is a read only property; its value cannot be set.",
                )
                continue
            if raw is None or raw == "":
                out[name] = None
                continue
            if isinstance(raw, datetime):
                raw = _aware(raw).date().isoformat() if definition.type == "date" else iso(raw)
            elif isinstance(raw, date):
                raw = raw.isoformat()
            value, problem = self._normalise_value(object_type, definition, _to_text(raw))
            if problem is not None and strict:
                fail(name, problem[0], problem[1])
                continue
            out[name] = value

        company_id = out.get("associatedcompanyid")
        if (
            strict
            and object_type == CONTACTS
            and company_id
            and not self.get(COMPANIES, company_id)
        ):
            fail(
                "associatedcompanyid",
                "INVALID_OBJECT_ID",
                f"{company_id} is not the id of an existing company",
            )
        if strict and object_type == DEALS and out.get("dealstage"):
            pipeline = (
                out.get("pipeline")
                or (existing.properties.get("pipeline") if existing else None)
                or DEFAULT_PIPELINE_ID
            )
            stage = out["dealstage"]
            if pipeline in self.pipelines and stage not in self.pipelines[pipeline]:
                fail(
                    "dealstage",
                    "INVALID_OPTION",
                    f'"{stage}" is not a valid deal stage of pipeline "{pipeline}"',
                )
        if errors:
            raise _validation(
                "Property values were not valid: " + json.dumps(errors, separators=(",", ":"))
            )
        return out

    def _normalise_value(
        self, object_type: str, definition: PropertyDef, text: str
    ) -> tuple[str, tuple[str, str] | None]:
        """(stored text, (error code, message) or None)."""
        kind = definition.type
        if kind == "number":
            try:
                number = Decimal(text.strip())
            except InvalidOperation:
                return text, ("INVALID_FLOAT", f"{text} was not a valid number.")
            if not number.is_finite():
                return text, ("INVALID_FLOAT", f"{text} was not a valid number.")
            return text.strip(), None
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered not in {"true", "false"}:
                return text, ("INVALID_BOOLEAN", f"{text} was not a valid boolean.")
            return lowered, None
        if kind == "datetime":
            instant = parse_instant(text)
            if instant is None:
                return text, ("INVALID_DATE", f"{text} was not a valid datetime.")
            return iso(instant), None
        if kind == "date":
            instant = parse_instant(text)
            if instant is None:
                return text, ("INVALID_DATE", f"{text} was not a valid date.")
            if (instant.hour, instant.minute, instant.second, instant.microsecond) != (0,) * 4:
                return instant.date().isoformat(), (
                    "INVALID_DATE",
                    f"{text} is not at midnight UTC; date properties take midnight UTC.",
                )
            return instant.date().isoformat(), None
        if kind == "enumeration":
            if definition.external_options:  # owners: HubSpot owner ids are numeric
                ok = text.strip().isdigit()
                return text.strip(), None if ok else (
                    "INVALID_OPTION",
                    f'"{text}" is not a valid owner id.',
                )
            if definition.name in {"dealstage", "pipeline"} and object_type == DEALS:
                if definition.name == "pipeline" and text not in self.pipelines:
                    return text, ("INVALID_OPTION", f'"{text}" is not a valid pipeline id.')
                return text, None  # dealstage is checked against its pipeline by the caller
            allowed = definition.option_values()
            chosen = text.split(";") if definition.field_type == "checkbox" else [text]
            bad = [c for c in chosen if c not in allowed]
            if bad:
                return text, (
                    "INVALID_OPTION",
                    f'"{bad[0]}" was not one of the allowed options: {sorted(allowed)}',
                )
            return text, None
        if object_type == CONTACTS and definition.name == "email":
            address = text.strip().lower()  # HubSpot keeps addresses lower-cased
            if not _EMAIL_RE.match(address):
                return text, ("INVALID_EMAIL", f"Email address {text} is invalid")
            return address, None
        return text, None

    def check_unique(
        self,
        object_type: str,
        values: Mapping[str, str | None],
        exclude_id: str | None,
        pending: Mapping[tuple[str, str], str] | None = None,
    ) -> list[tuple[str, str]]:
        """Refuse values another record already holds: contact email, unique properties.

        Returns the (property, lower-cased value) keys claimed, so a batch can refuse two
        inputs claiming the same value.
        """
        defs = self.definitions(object_type)
        claimed: list[tuple[str, str]] = []
        for name, value in values.items():
            unique = (object_type == CONTACTS and name == "email") or (
                name in defs and defs[name].has_unique_value
            )
            if not unique or value is None:
                continue
            key = (name, value.lower())
            holder = (pending or {}).get(key)
            if holder is None:
                for other in self._objects[object_type].values():
                    if (
                        other.id != exclude_id
                        and (other.properties.get(name) or "").lower() == key[1]
                    ):
                        holder = other.id
                        break
            if holder is not None and holder != exclude_id:
                if object_type == CONTACTS and name == "email":
                    message = f"Contact already exists. Existing ID: {holder}"
                else:
                    message = (
                        f"A {SINGULAR[object_type]} with {name} {value!r} already exists. "
                        f"Existing ID: {holder}"
                    )
                raise HubSpotError(409, message, "CONFLICT")
            claimed.append(key)
        return claimed

    def apply(
        self,
        obj: StoredObject,
        values: Mapping[str, str | None],
        at: datetime,
        source: str = "INTEGRATION",
    ) -> None:
        """Write values and what HubSpot derives from them; the record counts as modified."""
        stamp = iso(at)
        changes = dict(values)
        if obj.object_type == DEALS and "dealstage" in changes:
            old, new = obj.properties.get("dealstage"), changes["dealstage"]
            if new and not (changes.get("pipeline") or obj.properties.get("pipeline")):
                changes["pipeline"] = DEFAULT_PIPELINE_ID
            if new != old:
                if old:
                    for prefix in ("hs_date_exited_", "hs_v2_date_exited_"):
                        changes.setdefault(f"{prefix}{old}", stamp)
                if new:
                    for prefix in ("hs_date_entered_", "hs_v2_date_entered_"):
                        changes.setdefault(f"{prefix}{new}", stamp)
                    closed, won = stage_state(new, self.stages_info)
                    changes.setdefault("hs_is_closed", "true" if closed else "false")
                    changes.setdefault("hs_is_closed_won", "true" if won else "false")
                    stages = self.pipelines.get(changes.get("pipeline") or "", [])
                    if closed:
                        probability = "1.0" if won else "0.0"
                    elif new in stages:
                        probability = f"{(stages.index(new) + 1) / (len(stages) + 1):.1f}"
                    else:
                        probability = "0.1"
                    changes.setdefault("hs_deal_stage_probability", probability)
        if obj.object_type == TASKS and "hs_task_status" in changes:
            if changes["hs_task_status"] == "COMPLETED":
                if obj.properties.get("hs_task_status") != "COMPLETED":
                    changes.setdefault("hs_task_completion_date", stamp)
            else:
                changes.setdefault("hs_task_completion_date", None)
        for name, value in changes.items():
            if obj.properties.get(name) == value:
                continue
            if value is None:
                obj.properties.pop(name, None)
            else:
                obj.properties[name] = value
            obj.history.setdefault(name, []).insert(
                0, {"value": value or "", "timestamp": stamp, "sourceType": source}
            )
        obj.properties[modified_property(obj.object_type)] = stamp
        obj.updated_at = _aware(at)
        if obj.object_type == CONTACTS and changes.get("associatedcompanyid"):
            self.associate(
                CONTACTS, obj.id, COMPANIES, changes["associatedcompanyid"], primary=True, at=at
            )

    def create(
        self,
        object_type: str,
        values: Mapping[str, str | None],
        at: datetime,
        *,
        wanted_id: str | None = None,
        source: str = "INTEGRATION",
    ) -> StoredObject:
        object_id = self._new_id(wanted_id)
        created = values.get(created_property(object_type)) or iso(at)
        obj = StoredObject(object_id, object_type, {}, parse_instant(created) or at, at)
        self._objects[object_type][object_id] = obj
        base = {"hs_object_id": object_id, created_property(object_type): created}
        self.apply(obj, {**base, **values}, at, source)
        return obj

    # -- associations -------------------------------------------------------------------------

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        *,
        primary: bool | None = None,
        at: datetime | None = None,
    ) -> None:
        """Link two records; the first company of a contact or deal becomes its primary.

        HubSpot keeps one primary company per contact/deal and mirrors it in the contact's
        ``associatedcompanyid``. ``primary=None`` means "unlabeled": primary only when the
        record has no primary company yet (choice, matching HubSpot's auto-primary).
        """
        a, b = (from_type, str(from_id)), (to_type, str(to_id))
        make_primary = False
        if {from_type, to_type} in ({CONTACTS, COMPANIES}, {DEALS, COMPANIES}):
            owner, company = (a, b) if to_type == COMPANIES else (b, a)
            owner_links = self._links.get(owner, {})
            has_primary = any(flag for (t, _), flag in owner_links.items() if t == COMPANIES)
            already = owner_links.get(company, False)
            make_primary = bool(primary) or already or (primary is None and not has_primary)
            if make_primary:
                for key in [k for k in owner_links if k[0] == COMPANIES]:
                    self._links[owner][key] = self._links[key][owner] = False
                if owner[0] == CONTACTS:
                    contact = self.get(CONTACTS, owner[1])
                    if contact and contact.properties.get("associatedcompanyid") != company[1]:
                        self.apply(contact, {"associatedcompanyid": company[1]}, at or self.now())
        self._links.setdefault(a, {})[b] = make_primary
        self._links.setdefault(b, {})[a] = make_primary

    def linked(self, from_type: str, from_id: str, to_type: str) -> dict[str, bool]:
        """Associated ids of ``to_type`` (ascending) -> is it the primary association."""
        found = {
            other_id: flag
            for (other_type, other_id), flag in self._links.get(
                (from_type, str(from_id)), {}
            ).items()
            if other_type == to_type
        }
        return dict(sorted(found.items(), key=lambda item: int(item[0])))

    def association_types_json(self, from_type: str, to_type: str, primary: bool) -> list[JsonDict]:
        unlabeled, primary_id = association_type_ids(from_type, to_type)
        types: list[JsonDict] = []
        if primary and primary_id is not None:
            types.append({"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": "Primary"})
        types.append({"category": "HUBSPOT_DEFINED", "typeId": unlabeled, "label": None})
        return types

    def check_association_specs(
        self, from_type: str, associations: Any, *, where: str
    ) -> list[tuple[str, str, bool]]:
        """Validate ``associations`` of a create input -> [(to type, to id, primary)]."""
        if associations is None:
            return []
        if not isinstance(associations, list):
            raise _validation(f"{where}associations must be a list")
        planned: list[tuple[str, str, bool]] = []
        for spec in associations:
            to_id = str(((spec or {}).get("to") or {}).get("id") or "")
            types = (spec or {}).get("types") or []
            if not to_id or not types:
                raise _validation(f"{where}each association needs to.id and types")
            to_types: set[str] = set()
            primary = False
            for t in types:
                category = t.get("associationCategory")
                type_id = t.get("associationTypeId")
                if category != "HUBSPOT_DEFINED":
                    raise _validation(
                        f"{where}association category {category!r} with type {type_id} is not "
                        "defined in this portal"
                    )
                if isinstance(type_id, str) and type_id.isdigit():
                    type_id = int(type_id)  # HubSpot's JSON binding coerces numeric strings
                known = _ASSOCIATION_BY_ID.get(type_id) if isinstance(type_id, int) else None
                if known is None or known.from_type != from_type:
                    raise _validation(
                        f"{where}{type_id} is not a valid association type id from "
                        f"{SINGULAR[from_type]}"
                    )
                to_types.add(known.to_type)
                primary = primary or known.primary
            if len(to_types) != 1:
                raise _validation(f"{where}association types of one target disagree on its type")
            to_type = to_types.pop()
            if self.get(to_type, to_id) is None:
                raise _validation(
                    f"{where}association target {SINGULAR[to_type]} {to_id} does not exist",
                    context={"toObjectId": [to_id]},
                )
            planned.append((to_type, to_id, primary))
        return planned

    # -- reading ------------------------------------------------------------------------------

    def select_properties(self, object_type: str, requested: Iterable[str] | None) -> list[str]:
        """Requested known properties plus HubSpot's always-returned trio; defaults if none.

        Unknown names are dropped silently, as HubSpot does on reads.
        """
        names = [n for n in (requested or []) if n]
        if not names:
            return list(DEFAULT_PROPERTIES[object_type])
        defs = self.definitions(object_type)
        always = ("hs_object_id", created_property(object_type), modified_property(object_type))
        return list(dict.fromkeys([*(n for n in names if n in defs), *always]))

    def object_json(
        self,
        obj: StoredObject,
        properties: Sequence[str] | None,
        *,
        with_history: Sequence[str] = (),
        associations: Sequence[str] = (),
        all_set: bool = False,
    ) -> JsonDict:
        """The SDK's ``SimplePublicObject``: unset requested properties come back null."""
        if all_set:
            props: dict[str, str | None] = dict(sorted(obj.properties.items()))
        else:
            props = {
                n: obj.properties.get(n)
                for n in self.select_properties(obj.object_type, properties)
            }
        body: JsonDict = {
            "id": obj.id,
            "properties": props,
            "createdAt": iso(obj.created_at),
            "updatedAt": iso(obj.updated_at),
            "archived": False,
        }
        if with_history:
            defs = self.definitions(obj.object_type)
            body["propertiesWithHistory"] = {
                n: [dict(h) for h in obj.history.get(n, [])] for n in with_history if n in defs
            }
        if associations:
            linked: JsonDict = {}
            for name in associations:
                try:
                    to_type = self.object_type(name)
                except HubSpotError:
                    continue
                results = []
                for other, primary in self.linked(obj.object_type, obj.id, to_type).items():
                    stem = f"{SINGULAR[obj.object_type]}_to_{SINGULAR[to_type]}"
                    _, primary_id = association_type_ids(obj.object_type, to_type)
                    if primary_id is not None:
                        if primary:
                            results.append({"id": other, "type": stem})
                        results.append({"id": other, "type": f"{stem}_unlabeled"})
                    else:
                        results.append({"id": other, "type": stem})
                if results:
                    linked[to_type] = {"results": results}
            if linked:
                body["associations"] = linked
        return body

    def find_by(self, object_type: str, id_property: str | None, value: str) -> StoredObject | None:
        """Look a record up by id, or by a unique property (``idProperty``) like email."""
        if not id_property or id_property == "hs_object_id":
            return self.get(object_type, value)
        defs = self.definitions(object_type)
        unique = (object_type == CONTACTS and id_property == "email") or (
            id_property in defs and defs[id_property].has_unique_value
        )
        if not unique:
            raise _validation(f"{id_property} is not a unique identifier property")
        wanted = value.strip().lower()
        for obj in self._objects[object_type].values():
            if (obj.properties.get(id_property) or "").lower() == wanted:
                return obj
        return None

    # -- search -------------------------------------------------------------------------------

    def search(self, object_type: str, body: Mapping[str, Any]) -> JsonDict:
        """POST /crm/v3/objects/{type}/search, with HubSpot's limits and operators."""
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise _validation(f"limit must be a non-negative integer, got {limit!r}")
        if limit > MAX_SEARCH_LIMIT:
            raise _validation(
                f"limit {limit} is larger than the maximum of {MAX_SEARCH_LIMIT}",
                context={"limit": [str(limit)]},
            )
        after_text = str(body.get("after") or "0")
        if not after_text.isdigit():
            raise _validation(f"after must be a numeric offset, got {after_text!r}")
        after = int(after_text)
        if after >= MAX_SEARCH_RESULTS:
            raise _validation(
                f"The search API can page through at most {MAX_SEARCH_RESULTS} results; "
                f"after={after} is past that limit."
            )
        groups = body.get("filterGroups") or []
        if len(groups) > MAX_FILTER_GROUPS:
            raise _validation(
                f"Too many filter groups: {len(groups)} (maximum {MAX_FILTER_GROUPS})"
            )
        total_filters = 0
        defs = self.definitions(object_type)
        for group in groups:
            filters = (group or {}).get("filters") or []
            if len(filters) > MAX_FILTERS_PER_GROUP:
                raise _validation(
                    f"Too many filters in a group: {len(filters)} (maximum {MAX_FILTERS_PER_GROUP})"
                )
            total_filters += len(filters)
            for flt in filters:
                self._check_filter(object_type, defs, flt)
        if total_filters > MAX_FILTERS_TOTAL:
            raise _validation(
                f"Too many filters: {total_filters} (maximum {MAX_FILTERS_TOTAL} in all groups)"
            )
        sorts = self._parse_sorts(defs, body.get("sorts") or [])

        matches = [
            obj
            for obj in self.all_objects(object_type)
            if (not groups or any(self._group_matches(obj, g, defs) for g in groups))
            and self._query_matches(obj, body.get("query"))
        ]
        for name, descending in reversed(sorts):
            present = [o for o in matches if o.properties.get(name) not in (None, "")]
            missing = [o for o in matches if o.properties.get(name) in (None, "")]
            present.sort(
                key=lambda o, n=name: self._sort_key(defs[n], o.properties[n]), reverse=descending
            )
            matches = present + missing
        window = matches[:MAX_SEARCH_RESULTS]
        page = window[after : after + limit]
        result: JsonDict = {
            "total": len(matches),
            "results": [self.object_json(o, body.get("properties")) for o in page],
        }
        if limit and after + limit < len(matches):
            next_after = str(after + limit)
            link = f"{self.base_url}/crm/v3/objects/{object_type}/search?after={next_after}"
            result["paging"] = {
                "next": {
                    "after": next_after,
                    "link": link,
                }
            }
        return result

    def _check_filter(self, object_type: str, defs: Mapping[str, PropertyDef], flt: Any) -> None:
        if not isinstance(flt, dict):
            raise _validation("each filter must be an object")
        name, operator = flt.get("propertyName"), flt.get("operator")
        if operator not in OPERATORS:
            raise _validation(f"Unknown filter operator {operator!r}")
        if not isinstance(name, str) or not name:
            raise _validation("filter propertyName is required")
        if name.startswith("associations."):
            target = name.split(".", 1)[1]
            if _ALIASES.get(target) is None or operator not in {"EQ", "IN"}:
                raise _validation(f"Unsupported association filter {name} {operator}")
        elif name not in defs:
            # (choice) HubSpot answers 400 for a filter on a property the portal lacks.
            raise _validation(
                f'Property "{name}" does not exist on {SINGULAR[object_type]}',
                context={"propertyName": [name]},
            )
        if operator in {"IN", "NOT_IN"}:
            values = flt.get("values")
            if not isinstance(values, list) or not values:
                raise _validation(f"{operator} on {name} needs a non-empty values list")
        elif operator == "BETWEEN":
            if flt.get("value") in (None, "") or flt.get("highValue") in (None, ""):
                raise _validation(f"BETWEEN on {name} needs value and highValue")
        elif operator not in {"HAS_PROPERTY", "NOT_HAS_PROPERTY"} and flt.get("value") is None:
            raise _validation(f"{operator} on {name} needs a value")
        if name in defs and defs[name].type in {"number", "datetime", "date"}:
            for raw in [flt.get("value"), flt.get("highValue"), *(flt.get("values") or [])]:
                if raw not in (None, "") and operator not in {
                    "CONTAINS_TOKEN",
                    "NOT_CONTAINS_TOKEN",
                }:
                    self._typed(defs[name], _to_text(raw), what=f"filter value for {name}")

    def _typed(self, definition: PropertyDef, text: str, *, what: str = "value") -> Any:
        """A comparable form of a value: Decimal, epoch ms, or case-folded text."""
        if definition.type == "number":
            try:
                return Decimal(text.strip())
            except InvalidOperation:
                raise _validation(f"{what} {text!r} is not a number") from None
        if definition.type in {"datetime", "date"}:
            instant = parse_instant(text)
            if instant is None:
                raise _validation(f"{what} {text!r} is not a datetime (epoch ms or ISO 8601)")
            return _epoch_ms(instant)
        return text.lower()

    def _comparable(self, definition: PropertyDef, text: str) -> Any:
        """A stored value in comparable form; None for junk seeded into a typed property."""
        try:
            return self._typed(definition, text)
        except HubSpotError:
            return None

    def _sort_key(self, definition: PropertyDef, text: str) -> tuple[int, Any]:
        value = self._comparable(definition, text)
        return (0, value) if value is not None else (1, text.lower())

    def _parse_sorts(
        self, defs: Mapping[str, PropertyDef], sorts: Sequence[Any]
    ) -> list[tuple[str, bool]]:
        parsed: list[tuple[str, bool]] = []
        for sort in sorts:
            if isinstance(sort, str):
                name, descending = sort.lstrip("-"), sort.startswith("-")
            elif isinstance(sort, dict):
                name = sort.get("propertyName") or ""
                direction = sort.get("direction", "ASCENDING")
                if direction not in {"ASCENDING", "DESCENDING"}:
                    raise _validation(
                        f"sort direction must be ASCENDING or DESCENDING: {direction!r}"
                    )
                descending = direction == "DESCENDING"
            else:
                raise _validation(f"invalid sort {sort!r}")
            if name not in defs:
                raise _validation(f'Cannot sort by unknown property "{name}"')
            parsed.append((name, descending))
        return parsed

    def _group_matches(
        self, obj: StoredObject, group: Any, defs: Mapping[str, PropertyDef]
    ) -> bool:
        return all(self._filter_matches(obj, f, defs) for f in (group or {}).get("filters") or [])

    def _filter_matches(
        self, obj: StoredObject, flt: JsonDict, defs: Mapping[str, PropertyDef]
    ) -> bool:
        name, operator = flt["propertyName"], flt["operator"]
        if name.startswith("associations."):
            to_type = _ALIASES[name.split(".", 1)[1]]
            wanted = {str(flt["value"])} if operator == "EQ" else {str(v) for v in flt["values"]}
            return bool(wanted & set(self.linked(obj.object_type, obj.id, to_type)))
        definition = defs[name]
        raw = obj.properties.get(name)
        if operator == "HAS_PROPERTY":
            return raw not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return raw in (None, "")
        negated = operator in {"NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN"}
        if raw in (None, ""):
            return negated
        if operator in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
            pattern = _to_text(flt["value"]).lower()
            text = raw.lower()
            tokens = [text, *re.split(r"[^\w]+", text)]
            hit = any(fnmatch.fnmatchcase(t, pattern) for t in tokens if t)
            return hit != negated
        value = self._comparable(definition, raw)
        if value is None:  # junk seeded into a typed property matches nothing but negations
            return negated
        if operator in {"IN", "NOT_IN"}:
            hit = value in {self._typed(definition, _to_text(v)) for v in flt["values"]}
            return hit != negated
        target = self._typed(definition, _to_text(flt["value"]))
        if operator == "EQ":
            return value == target
        if operator == "NEQ":
            return value != target
        if operator == "LT":
            return value < target
        if operator == "LTE":
            return value <= target
        if operator == "GT":
            return value > target
        if operator == "GTE":
            return value >= target
        high = self._typed(definition, _to_text(flt["highValue"]))
        return target <= value <= high  # BETWEEN, inclusive

    def _query_matches(self, obj: StoredObject, query: Any) -> bool:
        if not query:
            return True
        words = str(query).lower().split()
        tokens: list[str] = []
        for name in QUERY_PROPERTIES[obj.object_type]:
            text = (obj.properties.get(name) or "").lower()
            tokens += [text, *re.split(r"[^\w]+", text)]
        return all(any(t.startswith(w) for t in tokens if t) for w in words)

    # -- properties API -----------------------------------------------------------------------

    def create_property(self, object_type: str, spec: Mapping[str, Any]) -> PropertyDef:
        """POST /crm/v3/properties/{type}: HubSpot's checks on a new custom property."""
        for key in ("name", "label", "type", "fieldType", "groupName"):
            if not spec.get(key):
                raise _validation(f"{key} is required to create a property")
        name, kind, field_type = spec["name"], spec["type"], spec["fieldType"]
        if not _PROPERTY_NAME_RE.match(name):
            raise _validation(
                f"Property name {name!r} must start with a lower-case letter and contain only "
                "lower-case letters, digits and underscores"
            )
        if name in self.definitions(object_type):
            raise HubSpotError(
                409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
            )
        if kind not in _FIELD_TYPES:
            raise _validation(f"{kind!r} is not a valid property type")
        if field_type not in _FIELD_TYPES[kind]:
            raise _validation(f"fieldType {field_type!r} cannot be used with type {kind!r}")
        if spec["groupName"] not in self._groups[object_type]:
            raise _validation(f"Property group {spec['groupName']!r} does not exist")
        options = []
        for i, option in enumerate(spec.get("options") or []):
            if not option.get("label") or option.get("value") in (None, ""):
                raise _validation("each option needs a label and a value")
            options.append(
                {
                    "label": option["label"],
                    "value": str(option["value"]),
                    "displayOrder": option.get("displayOrder", i),
                    "hidden": bool(option.get("hidden", False)),
                    "description": option.get("description") or "",
                }
            )
        if kind == "enumeration" and not options:
            raise _validation(f"enumeration property {name!r} needs options")
        if spec.get("hasUniqueValue") and kind not in {"string", "number"}:
            raise _validation("only string and number properties can require unique values")
        definition = PropertyDef(
            name=name,
            label=spec["label"],
            type=kind,
            field_type=field_type,
            group_name=spec["groupName"],
            options=options,
            description=spec.get("description") or "",
            hubspot_defined=False,
            has_unique_value=bool(spec.get("hasUniqueValue", False)),
            display_order=spec.get("displayOrder", -1),
            form_field=bool(spec.get("formField", False)),
            created_at=self.now(),
        )
        self._custom[object_type][name] = definition
        return definition

    def group(self, object_type: str, name: str) -> JsonDict:
        found = self._groups[object_type].get(name)
        if found is None:
            raise HubSpotError(
                404,
                f"Unable to find property group {name} for object type "
                f"{OBJECT_TYPE_IDS[object_type]}",
                "OBJECT_NOT_FOUND",
            )
        return dict(found)

    def groups(self, object_type: str) -> list[JsonDict]:
        return [dict(g) for g in self._groups[object_type].values()]

    def create_group(self, object_type: str, spec: Mapping[str, Any]) -> JsonDict:
        name, label = spec.get("name"), spec.get("label")
        if not name or not label:
            raise _validation("name and label are required to create a property group")
        if not _PROPERTY_NAME_RE.match(name):
            raise _validation(f"Property group name {name!r} is not valid")
        if name in self._groups[object_type]:
            raise HubSpotError(
                409, f"Property group '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
            )
        group = {
            "name": name,
            "label": label,
            "displayOrder": spec.get("displayOrder", -1),
            "archived": False,
        }
        self._groups[object_type][name] = group
        return dict(group)

    # -- pipelines ----------------------------------------------------------------------------

    def pipeline_json(self, pipeline_id: str, order: int) -> JsonDict:
        """The SDK's ``Pipeline`` with ``PipelineStage`` entries and HubSpot's stage metadata."""
        stamp = iso(datetime(2020, 1, 1, tzinfo=UTC))
        stages = self.pipelines[pipeline_id]
        stage_json = []
        for i, stage in enumerate(stages):
            closed, won = stage_state(stage, self.stages_info)
            probability = (
                ("1.0" if won else "0.0") if closed else f"{(i + 1) / (len(stages) + 1):.1f}"
            )
            stage_json.append(
                {
                    "id": stage,
                    "label": stage_label(stage, self.stages_info),
                    "displayOrder": i,
                    "metadata": {
                        "isClosed": "true" if closed else "false",
                        "probability": probability,
                    },
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "archived": False,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                }
            )
        return {
            "id": pipeline_id,
            "label": self.pipeline_labels.get(pipeline_id) or pipeline_label(pipeline_id),
            "displayOrder": order,
            "stages": stage_json,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }

    # -- owners -------------------------------------------------------------------------------

    def add_owner(
        self,
        email: str,
        first_name: str,
        last_name: str,
        teams: Sequence[str],
        archived: bool,
        wanted_id: str | None,
    ) -> str:
        owner_id = self._new_id(wanted_id)
        stamp = iso(self.now())
        self.owners[owner_id] = {
            "id": owner_id,
            "email": email,
            "type": "PERSON",
            "firstName": first_name,
            "lastName": last_name,
            "userId": int(owner_id) + 7_000_000,
            "userIdIncludingInactive": int(owner_id) + 7_000_000,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": archived,
            "teams": [
                {"id": str(9_000 + i), "name": name, "primary": i == 0}
                for i, name in enumerate(teams)
            ],
        }
        return owner_id

    def owners_page(
        self, email: str | None, after: str | None, limit: int, archived: bool
    ) -> JsonDict:
        """A page of owners by ascending id, as ``GET /crm/v3/owners`` answers."""
        matching = [
            o
            for _, o in sorted(self.owners.items(), key=lambda item: int(item[0]))
            if o["archived"] == archived and (email is None or o["email"] == email)
        ]
        start = int(after) if after else 0
        page = matching[start : start + limit]
        answer: JsonDict = {"results": [dict(o) for o in page]}
        if start + limit < len(matching):
            cursor = str(start + limit)
            answer["paging"] = {
                "next": {"after": cursor, "link": f"{self.base_url}/crm/v3/owners/?after={cursor}"}
            }
        return answer
