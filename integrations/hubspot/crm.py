"""HubSpot adapter of the CRM port, on the official SDK (`hubspot-api-client`).

Reads use the CRM search API filtered and sorted by last-modified time (200 per page) plus
one v4 association batch read per page of deals. Writes use batch endpoints (100 per call).
Every call goes through :class:`HubSpotCalls` (rate limits, retry policy, counting).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4 import PublicObjectId as AssociationObjectId
from hubspot.crm.objects import (
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
)

from integrations.errors import PermanentError
from integrations.hubspot.calls import HubSpotCalls
from integrations.ports import (
    PROGRAM_PROPERTIES,
    PROPERTY_GROUP,
    REFERRAL_SOURCE,
    UNIQUE_PROPERTIES,
    CrmPage,
    CrmRecord,
    CrmTask,
    DeliveryResult,
    PropertySpec,
    PushResult,
    ReferralPush,
    SetupReport,
)

SEARCH_PAGE = 200
BATCH = 100
ASSOCIATION_BATCH = 1000  # v4 association batch read accepts up to 1000 ids
LAST_MODIFIED = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
}
# HubSpot-defined association type ids (CRM v4).
DEAL_TO_COMPANY = 341
DEAL_TO_CONTACT = 3
CONTACT_TO_COMPANY = 279
TASK_TO_COMPANY = 192
TASK_TO_CONTACT = 204
BOOLEAN_OPTIONS = [
    OptionInput(label="Yes", value="true", display_order=0, hidden=False),
    OptionInput(label="No", value="false", display_order=1, hidden=False),
]


def ms(value: datetime) -> str:
    return str(int(value.timestamp() * 1000))


def parse_hubspot_time(value: Any) -> datetime | None:
    """HubSpot sends ISO 8601 (``2026-03-02T09:00:00.000Z``) or milliseconds since epoch."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class HubSpotCrm:
    def __init__(self, client: HubSpot, calls: HubSpotCalls, deal_pipeline_id: str | None = None):
        self.calls = calls
        self.deal_pipeline_id = deal_pipeline_id
        crm = client.crm
        # Each SDK accessor builds a new API client (and connection pool): build them once.
        self._search = crm.objects.search_api
        self._batch = crm.objects.batch_api
        self._associations = crm.associations.v4.batch_api
        self._properties = crm.properties.core_api
        self._property_batch = crm.properties.batch_api
        self._groups = crm.properties.groups_api
        self._pipelines = crm.pipelines.pipelines_api

    def api_calls(self) -> dict[str, int]:
        return dict(self.calls.counts)

    # -- reads --------------------------------------------------------------------------

    def changed_since(
        self,
        object_type: str,
        since: datetime,
        properties: Sequence[str],
        after: str | None = None,
        limit: int = SEARCH_PAGE,
        known: Collection[str] = frozenset(),
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
            next_after=lambda page: (
                page.paging.next.after if page.paging and page.paging.next else None
            ),
        )

    def changed_at(
        self,
        object_type: str,
        at: datetime,
        properties: Sequence[str],
        after_id: str | None = None,
        limit: int = SEARCH_PAGE,
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
            next_after=lambda page: (
                str(page.results[-1].id)
                if page.paging and page.paging.next and page.results
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
        next_after: Callable[[Any], str | None],
    ) -> CrmPage:
        last_modified = LAST_MODIFIED[object_type]
        if object_type == "deals" and self.deal_pipeline_id:
            filters.append(
                Filter(property_name="pipeline", operator="EQ", value=self.deal_pipeline_id)
            )
        if object_type == "tasks":  # only the program's own tasks, not the whole portal's
            filters.append(Filter(property_name="referral_outbox_key", operator="HAS_PROPERTY"))
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)],
            sorts=[{"propertyName": sort_by, "direction": "ASCENDING"}],
            properties=sorted({*properties, last_modified}),
            limit=min(limit, SEARCH_PAGE),
            after=after,
        )
        page = self.calls(
            f"POST /crm/v3/objects/{object_type}/search",
            self._search.do_search,
            object_type,
            public_object_search_request=request,
        )
        # Deals the caller already stored need no second association read: a quiet sync then
        # costs one search call per object type.
        fresh = [str(r.id) for r in page.results if str(r.id) not in known]
        companies = self._deal_companies(fresh) if object_type == "deals" and fresh else {}
        records = []
        for result in page.results:
            props = dict(result.properties or {})
            updated = parse_hubspot_time(props.get(last_modified)) or parse_hubspot_time(
                result.updated_at
            )
            associations = {"companies": companies[result.id]} if companies.get(result.id) else {}
            records.append(
                CrmRecord(
                    object_type, str(result.id), props, updated or datetime.now(UTC), associations
                )
            )
        return CrmPage(records, next_after(page))

    def _deal_companies(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for chunk in _chunks(list(deal_ids), ASSOCIATION_BATCH):
            response = self.calls(
                "POST /crm/v4/associations/deals/companies/batch/read",
                self._associations.get_page,
                "deals",
                "companies",
                batch_input_public_fetch_associations_batch_request=(
                    BatchInputPublicFetchAssociationsBatchRequest(
                        inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in chunk]
                    )
                ),
            )
            for result in response.results or []:
                found[str(result._from.id)] = [str(t.to_object_id) for t in result.to or []]
        return found

    # -- writes -------------------------------------------------------------------------

    def push_referrals(self, pushes: Sequence[ReferralPush]) -> list[PushResult]:
        results: list[PushResult] = []
        for chunk in _chunks(list(pushes), BATCH):
            try:
                results += self._push_chunk(chunk)
            except PermanentError:
                # HubSpot batch writes are all-or-nothing: one bad record fails its batch. Push
                # one by one to find it; what the batch did create is matched, not duplicated.
                results += [self._push_alone(p) for p in chunk]
        return results

    def _push_alone(self, push: ReferralPush) -> PushResult:
        try:
            return self._push_chunk([push])[0]
        except PermanentError as error:
            return PushResult(push.referral_key, error=str(error))

    def _push_chunk(self, pushes: Sequence[ReferralPush]) -> list[PushResult]:
        existing_deals = self._search_values(
            "deals", "referral_program_id", [p.referral_key for p in pushes]
        )
        domains = sorted({p.company_domain for p in pushes if p.company_domain})
        companies = self._search_values("companies", "domain", domains)
        # A company without a domain is matched by its exact name rather than duplicated.
        names = sorted({p.company_name for p in pushes if not p.company_domain})
        companies |= {
            f"name:{n}": i for n, i in self._search_values("companies", "name", names).items()
        }
        created: dict[str, set[str]] = {p.referral_key: set() for p in pushes}
        # Attaching to a rep's deal: its company is the one that counts, never a new one.
        attach_ids = [
            p.existing_deal_id
            for p in pushes
            if p.existing_deal_id and p.referral_key not in existing_deals
        ]
        rep_companies = self._deal_companies(attach_ids) if attach_ids else {}
        for p in pushes:
            linked = rep_companies.get(p.existing_deal_id or "")
            if linked:
                companies[p.company_domain or f"name:{p.company_name}"] = linked[0]

        missing_companies = {}
        for p in pushes:
            key = p.company_domain or f"name:{p.company_name}"
            if p.referral_key in existing_deals or key in companies:
                continue
            missing_companies.setdefault(key, p)
        new_company_ids = self._create(
            "companies",
            _company_key,
            [
                (
                    {
                        "name": p.company_name,
                        **({"domain": p.company_domain} if p.company_domain else {}),
                    },
                    [],
                )
                for p in missing_companies.values()
            ],
        )
        for key, p in missing_companies.items():
            companies[key] = new_company_ids[key]
            created[p.referral_key].add("company")

        emails = sorted({p.contact_email for p in pushes if p.contact_email})
        contacts = self._read_by("contacts", "email", emails)
        missing_contacts = {}
        for p in pushes:
            if (
                p.contact_email
                and p.contact_email not in contacts
                and p.referral_key not in existing_deals
            ):
                missing_contacts.setdefault(p.contact_email, p)
        new_contact_ids = self._create(
            "contacts",
            lambda props: str(props.get("email", "")).lower(),
            [
                (
                    {
                        "email": email,
                        "firstname": p.contact_first_name,
                        "lastname": p.contact_last_name,
                        **({"jobtitle": p.contact_title} if p.contact_title else {}),
                    },
                    [(self._company_of(p, companies), CONTACT_TO_COMPANY)],
                )
                for email, p in missing_contacts.items()
            ],
        )
        for email, p in missing_contacts.items():
            contacts[email] = new_contact_ids[email]
            created[p.referral_key].add("contact")

        to_create = [
            p for p in pushes if p.referral_key not in existing_deals and not p.existing_deal_id
        ]
        new_deal_ids = self._create(
            "deals",
            lambda props: str(props.get("referral_program_id", "")),
            [
                (
                    self._deal_properties(p, with_stage=True),
                    [
                        (self._company_of(p, companies), DEAL_TO_COMPANY),
                        (contacts.get(p.contact_email or ""), DEAL_TO_CONTACT),
                    ],
                )
                for p in to_create
            ],
        )
        deals = dict(existing_deals)
        for p in to_create:
            deals[p.referral_key] = new_deal_ids[p.referral_key]
            created[p.referral_key].add("deal")
        to_attach = [
            p for p in pushes if p.existing_deal_id and p.referral_key not in existing_deals
        ]
        self._update(
            "deals",
            [(p.existing_deal_id or "", self._deal_properties(p, False)) for p in to_attach],
        )
        for p in to_attach:
            deals[p.referral_key] = p.existing_deal_id or ""
        self._associate_default(
            "deals",
            "contacts",
            [(p.existing_deal_id or "", contacts.get(p.contact_email or "")) for p in to_attach],
        )
        self._associate_default(
            "deals",
            "companies",
            [
                (p.existing_deal_id or "", self._company_of(p, companies))
                for p in to_attach
                if not rep_companies.get(p.existing_deal_id or "")
            ],
        )

        return [
            PushResult(
                p.referral_key,
                company_id=self._company_of(p, companies),
                contact_id=contacts.get(p.contact_email or ""),
                deal_id=deals.get(p.referral_key),
                created=tuple(
                    k for k in ("company", "contact", "deal") if k in created[p.referral_key]
                ),
            )
            for p in pushes
        ]

    @staticmethod
    def _company_of(push: ReferralPush, companies: dict[str, str]) -> str | None:
        return companies.get(push.company_domain or f"name:{push.company_name}")

    @staticmethod
    def _deal_properties(push: ReferralPush, with_stage: bool) -> dict[str, str]:
        props = {
            "referral_program_id": push.referral_key,
            "referred_by_email": push.referred_by_email,
            "referral_source": REFERRAL_SOURCE,
            "referrer_type": push.referrer_type,
        }
        if with_stage:
            props |= {
                "dealname": push.deal_name,
                "pipeline": push.pipeline_id,
                "dealstage": push.stage_id,
            }
            if push.owner_id:
                props["hubspot_owner_id"] = push.owner_id
        return props

    def _search_values(self, object_type: str, prop: str, values: Sequence[str]) -> dict[str, str]:
        """value -> id for records whose ``prop`` is one of ``values`` (one search per 100)."""
        found: dict[str, str] = {}
        for chunk in _chunks(list(values), BATCH):
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
                self._search.do_search,
                object_type,
                public_object_search_request=request,
            )
            for result in page.results:
                value = (result.properties or {}).get(prop)
                if value:
                    found.setdefault(value.lower() if prop == "domain" else value, str(result.id))
        return found

    def _read_by(self, object_type: str, id_property: str, values: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(list(values), BATCH):
            response = self.calls(
                f"POST /crm/v3/objects/{object_type}/batch/read",
                self._batch.read,
                object_type,
                batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
                    inputs=[SimplePublicObjectId(id=v) for v in chunk],
                    properties=[id_property],
                    properties_with_history=[],
                    id_property=id_property,
                ),
            )
            for result in response.results or []:
                value = (result.properties or {}).get(id_property)
                if value:
                    found[value.lower()] = str(result.id)
        return found

    def _create(
        self,
        object_type: str,
        key_of: Callable[[dict[str, Any]], str],
        items: Sequence[tuple[dict[str, str], list[tuple[str | None, int]]]],
    ) -> dict[str, str]:
        """Batch create; ids by each record's key, read from the properties HubSpot echoes
        back (HubSpot does not promise results in input order)."""
        ids: dict[str, str] = {}
        for chunk in _chunks(list(items), BATCH):
            inputs = [
                SimplePublicObjectInputForCreate(
                    properties=props,
                    associations=[
                        PublicAssociationsForObject(
                            to=PublicObjectId(id=to_id),
                            types=[
                                AssociationSpec(
                                    association_category="HUBSPOT_DEFINED",
                                    association_type_id=type_id,
                                )
                            ],
                        )
                        for to_id, type_id in associations
                        if to_id
                    ],
                )
                for props, associations in chunk
            ]
            response = self.calls(
                f"POST /crm/v3/objects/{object_type}/batch/create",
                self._batch.create,
                object_type,
                batch_input_simple_public_object_batch_input_for_create=(
                    BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
                ),
            )
            ids |= {key_of(dict(r.properties or {})): str(r.id) for r in response.results}
            missing = [key_of(props) for props, _ in chunk if key_of(props) not in ids]
            if missing:
                raise PermanentError(
                    f"HubSpot created {object_type} but echoed no record for {missing[:3]}"
                )
        return ids

    def _associate_default(
        self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str | None]]
    ) -> None:
        """Default (unlabelled) associations, in batches; pairs missing an end are skipped."""
        inputs = [
            PublicDefaultAssociationMultiPost(
                _from=AssociationObjectId(id=a), to=AssociationObjectId(id=b)
            )
            for a, b in pairs
            if a and b
        ]
        for chunk in _chunks(inputs, ASSOCIATION_BATCH):
            self.calls(
                f"POST /crm/v4/associations/{from_type}/{to_type}/batch/associate/default",
                self._associations.create_default,
                from_type,
                to_type,
                batch_input_public_default_association_multi_post=(
                    BatchInputPublicDefaultAssociationMultiPost(inputs=list(chunk))
                ),
            )

    def _update(self, object_type: str, items: Sequence[tuple[str, dict[str, str]]]) -> None:
        for chunk in _chunks(list(items), BATCH):
            self.calls(
                f"POST /crm/v3/objects/{object_type}/batch/update",
                self._batch.update,
                object_type,
                batch_input_simple_public_object_batch_input=(
                    BatchInputSimplePublicObjectBatchInput(
                        inputs=[SimplePublicObjectBatchInput(id=i, properties=p) for i, p in chunk]
                    )
                ),
            )

    # -- tasks --------------------------------------------------------------------------

    def find_tasks(self, dedupe_keys: Sequence[str]) -> dict[str, str | None]:
        found = self._search_values("tasks", "referral_outbox_key", list(dedupe_keys))
        return {key: found.get(key) for key in dedupe_keys}

    def create_tasks(self, tasks: Sequence[CrmTask]) -> list[DeliveryResult]:
        """Batch create (100 per call) with associations to company and contact. Tasks carry
        the unique ``referral_outbox_key``, looked up first, so a repeat creates nothing."""
        results: dict[str, DeliveryResult] = {}
        for chunk in _chunks(list(tasks), BATCH):
            existing = self.find_tasks([t.dedupe_key for t in chunk])
            missing = [t for t in chunk if not existing.get(t.dedupe_key)]
            results.update({k: DeliveryResult(k, provider_id=v) for k, v in existing.items() if v})
            try:
                ids = self._create(
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

    # -- setup --------------------------------------------------------------------------

    def setup(self, pipeline_id: str, stage_ids: Sequence[str]) -> SetupReport:
        created: list[str] = []
        for object_type, specs in PROGRAM_PROPERTIES.items():
            created += self._ensure_properties(object_type, specs)
        problems: list[str] = []
        try:
            pipeline = self.calls(
                f"GET /crm/v3/pipelines/deals/{pipeline_id}",
                self._pipelines.get_by_id,
                "deals",
                pipeline_id,
            )
        except PermanentError as error:
            problems.append(f"deal pipeline '{pipeline_id}' not found ({error})")
        else:
            known = {stage.id for stage in pipeline.stages}
            problems += [
                f"stage id '{s}' is not a stage of deal pipeline '{pipeline_id}'"
                for s in stage_ids
                if s not in known
            ]
        return SetupReport(created, problems)

    def _ensure_properties(self, object_type: str, specs: Sequence[PropertySpec]) -> list[str]:
        created = []
        try:
            self.calls(
                f"GET /crm/v3/properties/{object_type}/groups/{PROPERTY_GROUP}",
                self._groups.get_by_name,
                object_type,
                PROPERTY_GROUP,
            )
        except PermanentError as error:
            if "HubSpot 404" not in str(error):
                raise
            self.calls(
                f"POST /crm/v3/properties/{object_type}/groups",
                self._groups.create,
                object_type,
                property_group_create=PropertyGroupCreate(
                    name=PROPERTY_GROUP, label="Referral program", display_order=-1
                ),
            )
            created.append(f"{object_type} property group {PROPERTY_GROUP}")
        existing = self.calls(
            f"GET /crm/v3/properties/{object_type}", self._properties.get_all, object_type
        )
        names = {p.name for p in existing.results}
        missing = [spec for spec in specs if spec.name not in names]
        if missing:
            self.calls(
                f"POST /crm/v3/properties/{object_type}/batch/create",
                self._property_batch.create,
                object_type,
                batch_input_property_create=BatchInputPropertyCreate(
                    inputs=[
                        PropertyCreate(
                            name=spec.name,
                            label=spec.label,
                            type=spec.type,
                            field_type=spec.field_type,
                            group_name=PROPERTY_GROUP,
                            has_unique_value=spec.name in UNIQUE_PROPERTIES,
                            options=BOOLEAN_OPTIONS if spec.type == "bool" else None,
                        )
                        for spec in missing
                    ]
                ),
            )
            created += [f"{object_type} property {spec.name}" for spec in missing]
        return created


def _company_key(props: dict[str, Any]) -> str:
    domain = str(props.get("domain") or "").lower()
    return domain or f"name:{props.get('name', '')}"
