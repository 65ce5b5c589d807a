"""The fake HubSpot, driven by the real ``hubspot-api-client``.

The client is built with ``client_side_validation=True`` so the SDK checks every response
against its models' required fields: an answer the SDK would not accept from HubSpot fails
here instead of in an adapter test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputForCreate as CompanyBatchCreate,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate as ContactBatchCreate,
)
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.deals import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    PublicObjectSearchRequest,
)
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.crm.deals.exceptions import UnauthorizedException
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId as ObjectsBatchRead
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.pipelines.exceptions import NotFoundException as PipelineNotFound
from hubspot.crm.properties import BatchInputPropertyCreate, PropertyCreate, PropertyGroupCreate
from hubspot.crm.properties.exceptions import NotFoundException as PropertyNotFound

from domain.stages import DEFAULT_STAGE_MAP
from tests.fakes import FakeHubSpot

TOKEN = "pat-test-token"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The portal's clock: tests move it to get predictable modified dates."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeHubSpot]:
    with FakeHubSpot(TOKEN, now=clock) as server:
        yield server


@pytest.fixture
def client(fake: FakeHubSpot) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=fake.base_url, client_side_validation=True)


def _ms(dt: datetime) -> str:
    return str(int(dt.timestamp() * 1000))


def _search(client: HubSpot, **request: object):
    return client.crm.deals.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(**request)
    )


def _error(exc: pytest.ExceptionInfo[Exception]) -> dict:
    return json.loads(exc.value.body)


def test_search_pages_through_modified_deals_in_order(fake: FakeHubSpot, client: HubSpot) -> None:
    for i in range(25):
        fake.add_deal(
            {"dealname": f"Deal {i}", "dealstage": "appointmentscheduled", "amount": str(100 * i)},
            updated_at=T0 + timedelta(hours=25 - i),  # newest first, so id order != time order
        )
    fake.add_deal({"dealname": "Too old"}, updated_at=T0 - timedelta(days=1))
    since = T0 + timedelta(hours=3)

    seen: list[str] = []
    pages = 0
    after = None
    while True:
        page = _search(
            client,
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": _ms(since),
                        }
                    ]
                }
            ],
            sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            properties=["dealname", "dealstage", "no_such_property"],
            limit=10,
            after=after,
        )
        pages += 1
        assert page.total == 23
        seen += [r.properties["dealname"] for r in page.results]
        first = page.results[0]
        assert set(first.properties) == {
            "dealname",
            "dealstage",
            "hs_object_id",
            "createdate",
            "hs_lastmodifieddate",
        }
        assert first.properties["hs_lastmodifieddate"].endswith(".000Z")
        if page.paging is None:
            break
        after = page.paging.next.after
    assert pages == 3
    assert seen == [f"Deal {i}" for i in range(22, -1, -1)]

    # An ISO value means the same instant as epoch milliseconds.
    iso_page = _search(
        client,
        filter_groups=[
            {
                "filters": [
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "GTE",
                        "value": since.isoformat(),
                    }
                ]
            }
        ],
        limit=0,
    )
    assert iso_page.total == 23
    assert fake.calls_by_endpoint() == {"POST /crm/v3/objects/deals/search": 4}


def test_search_enforces_hubspot_limits(fake: FakeHubSpot, client: HubSpot) -> None:
    with pytest.raises(DealsApiException) as too_big:
        _search(client, limit=201)
    assert too_big.value.status == 400
    assert _error(too_big)["category"] == "VALIDATION_ERROR"

    group = {"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}]}
    with pytest.raises(DealsApiException) as too_many_groups:
        _search(client, filter_groups=[group] * 6)
    assert too_many_groups.value.status == 400

    with pytest.raises(DealsApiException) as past_window:
        _search(client, after="10000", limit=100)
    assert "10000" in _error(past_window)["message"]

    with pytest.raises(DealsApiException) as bad_operator:
        _search(
            client, filter_groups=[{"filters": [{"propertyName": "amount", "operator": "LIKE"}]}]
        )
    assert bad_operator.value.status == 400


def test_search_operators_and_case_insensitive_in(fake: FakeHubSpot, client: HubSpot) -> None:
    company = fake.add_company({"name": "Acme", "domain": "Acme.com"})
    fake.add_company({"name": "Globex", "domain": "globex.io"})
    fake.add_contact({"email": "ann@acme.com", "firstname": "Ann"}, company_id=company)

    found = client.crm.companies.search_api.do_search(
        public_object_search_request={
            "filterGroups": [
                {"filters": [{"propertyName": "domain", "operator": "IN", "values": ["ACME.COM"]}]}
            ]
        }
    )
    assert [r.properties["name"] for r in found.results] == ["Acme"]

    by_token = client.crm.contacts.search_api.do_search(
        public_object_search_request={
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "email",
                            "operator": "CONTAINS_TOKEN",
                            "value": "*@acme.com",
                        },
                        {
                            "propertyName": "associations.company",
                            "operator": "EQ",
                            "value": company,
                        },
                    ]
                }
            ]
        }
    )
    assert by_token.total == 1


def test_search_rate_limit_answers_hubspots_secondly_429(clock: Clock) -> None:
    with FakeHubSpot(TOKEN, now=clock, search_limit_per_second=2) as fake:
        client = HubSpot(access_token=TOKEN, host=fake.base_url)
        _search(client, limit=1)
        _search(client, limit=1)
        with pytest.raises(DealsApiException) as limited:
            _search(client, limit=1)
    assert limited.value.status == 429
    body = _error(limited)
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "SECONDLY")
    assert body["message"] == "You have reached your secondly limit."


def test_batch_create_with_associations_then_v4_read(fake: FakeHubSpot, client: HubSpot) -> None:
    company_id = (
        client.crm.companies.batch_api.create(
            CompanyBatchCreate(inputs=[{"properties": {"name": "Acme", "domain": "acme.com"}}])
        )
        .results[0]
        .id
    )
    contacts = client.crm.contacts.batch_api.create(
        ContactBatchCreate(
            inputs=[
                {
                    "properties": {"email": "Ann@Acme.com", "firstname": "Ann"},
                    "associations": [
                        {
                            "to": {"id": company_id},
                            "types": [
                                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
                            ],
                        }
                    ],
                },
                {"properties": {"email": "bob@acme.com"}},
            ]
        )
    )
    ann, bob = (r.id for r in contacts.results)
    assert [r.properties["email"] for r in contacts.results] == ["ann@acme.com", "bob@acme.com"]

    deal = client.crm.deals.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                {
                    "properties": {
                        "dealname": "Acme expansion",
                        "dealstage": "appointmentscheduled",
                    },
                    "associations": [
                        {
                            "to": {"id": company_id},
                            "types": [
                                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}
                            ],
                        },
                        {
                            "to": {"id": ann},
                            "types": [
                                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
                            ],
                        },
                    ],
                }
            ]
        )
    ).results[0]
    assert deal.properties["pipeline"] == "default"
    assert deal.properties["hs_v2_date_entered_appointmentscheduled"] == "2026-03-02T09:00:00.000Z"

    v4 = client.crm.associations.v4.batch_api
    to_company = v4.get_page(
        "deals",
        "companies",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": deal.id}]),
    )
    [row] = to_company.results
    assert row._from.id == deal.id
    assert row.to[0].to_object_id == company_id
    assert [(t.type_id, t.label) for t in row.to[0].association_types] == [
        (5, "Primary"),
        (341, None),
    ]

    reverse = v4.get_page("companies", "contacts", {"inputs": [{"id": company_id}]}).results[0]
    assert [t.to_object_id for t in reverse.to] == [ann]
    assert fake.objects("contacts")[ann]["associatedcompanyid"] == company_id

    partial = v4.get_page("contacts", "companies", {"inputs": [{"id": ann}, {"id": bob}]})
    assert [r._from.id for r in partial.results] == [ann]
    assert partial.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert fake.associations("deals", deal.id, "contacts") == [ann]


def test_wrong_association_type_id_is_refused(fake: FakeHubSpot, client: HubSpot) -> None:
    company = fake.add_company({"name": "Acme"})
    with pytest.raises(DealsApiException) as refused:
        client.crm.deals.batch_api.create(
            {
                "inputs": [
                    {
                        "properties": {"dealname": "x"},
                        "associations": [
                            {
                                "to": {"id": company},
                                "types": [
                                    {
                                        "associationCategory": "HUBSPOT_DEFINED",
                                        "associationTypeId": 279,
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        )
    assert refused.value.status == 400
    assert "279" in _error(refused)["message"]
    assert fake.objects("deals") == {}


def test_unknown_property_is_a_400_and_nothing_is_written(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    with pytest.raises(DealsApiException) as refused:
        client.crm.deals.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    {"properties": {"dealname": "fine"}},
                    {"properties": {"dealname": "bad", "referral_program_id": "r-1"}},
                ]
            )
        )
    assert refused.value.status == 400
    body = _error(refused)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid")
    assert "referral_program_id" in body["message"]
    assert fake.objects("deals") == {}

    deal = fake.add_deal({"dealname": "D", "dealstage": "appointmentscheduled"})
    with pytest.raises(DealsApiException) as bad_stage:
        client.crm.deals.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[{"id": deal, "properties": {"dealstage": "nosuchstage"}}]
            )
        )
    assert "INVALID_OPTION" in _error(bad_stage)["message"]
    with pytest.raises(DealsApiException) as read_only:
        client.crm.deals.batch_api.update(
            {"inputs": [{"id": deal, "properties": {"hs_date_entered_closedwon": "0"}}]}
        )
    assert "READ_ONLY_VALUE" in _error(read_only)["message"]


def test_duplicate_contact_email_is_a_409(fake: FakeHubSpot, client: HubSpot) -> None:
    existing = fake.add_contact({"email": "ann@acme.com"})
    with pytest.raises(ContactsApiException) as conflict:
        client.crm.contacts.batch_api.create(
            {"inputs": [{"properties": {"email": "ANN@acme.com"}}]}
        )
    assert conflict.value.status == 409
    body = _error(conflict)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {existing}"


def test_batch_read_reports_missing_ids_as_207(fake: FakeHubSpot, client: HubSpot) -> None:
    ann = fake.add_contact({"email": "ann@acme.com", "firstname": "Ann"})
    read = client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": "ANN@ACME.COM"}, {"id": "nobody@acme.com"}],
            properties=["firstname"],
            properties_with_history=[],
            id_property="email",
        )
    )
    assert [r.id for r in read.results] == [ann]
    assert read.num_errors == 1
    assert read.errors[0].context == {"ids": ["nobody@acme.com"]}

    with pytest.raises(ContactsApiException) as too_many:
        client.crm.contacts.batch_api.read(
            {
                "inputs": [{"id": str(i)} for i in range(101)],
                "properties": [],
                "propertiesWithHistory": [],
            }
        )
    assert too_many.value.status == 400


def test_wrong_token_gets_hubspots_401(fake: FakeHubSpot) -> None:
    stranger = HubSpot(access_token="not-the-token", host=fake.base_url)
    with pytest.raises(UnauthorizedException) as denied:
        _search(stranger, limit=1)
    assert denied.value.status == 401
    assert _error(denied)["category"] == "INVALID_AUTHENTICATION"
    assert fake.requests[-1].status == 401
    assert fake.requests[-1].headers["authorization"] == "Bearer not-the-token"


def test_fail_next_answers_once_then_recovers(fake: FakeHubSpot, client: HubSpot) -> None:
    fake.add_deal({"dealname": "D"})
    fake.fail_next("POST", "/crm/v3/objects/deals/search", 429, headers={"Retry-After": "3"})
    with pytest.raises(DealsApiException) as limited:
        _search(client, limit=5)
    assert limited.value.status == 429
    assert limited.value.headers["Retry-After"] == "3"
    assert _error(limited)["errorType"] == "RATE_LIMIT"

    assert _search(client, limit=5).total == 1
    assert [r.status for r in fake.requests] == [429, 200]
    assert fake.requests[0].json["limit"] == 5


def test_property_group_404_then_create_with_unique_property(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    props = client.crm.properties
    with pytest.raises(PropertyNotFound) as missing:
        props.groups_api.get_by_name("deals", "referral_program")
    assert _error(missing)["category"] == "OBJECT_NOT_FOUND"

    group = props.groups_api.create(
        "deals", PropertyGroupCreate(name="referral_program", label="Referral program")
    )
    assert group.name == "referral_program"
    created = props.batch_api.create(
        "deals",
        BatchInputPropertyCreate(
            inputs=[
                PropertyCreate(
                    name="referral_program_id",
                    label="Referral ID",
                    type="string",
                    field_type="text",
                    group_name="referral_program",
                    has_unique_value=True,
                ),
                PropertyCreate(
                    name="referrer_type",
                    label="Referrer type",
                    type="enumeration",
                    field_type="select",
                    group_name="referral_program",
                    options=[{"label": "Client", "value": "client", "hidden": False}],
                ),
            ]
        ),
    )
    assert sorted(p.name for p in created.results) == ["referral_program_id", "referrer_type"]
    assert props.core_api.get_by_name("deals", "referral_program_id").has_unique_value is True

    client.crm.deals.batch_api.create(
        {"inputs": [{"properties": {"dealname": "A", "referral_program_id": "r-1"}}]}
    )
    with pytest.raises(DealsApiException) as duplicate:
        client.crm.deals.batch_api.create(
            {"inputs": [{"properties": {"dealname": "B", "referral_program_id": "r-1"}}]}
        )
    assert duplicate.value.status == 409
    with pytest.raises(DealsApiException) as bad_option:
        client.crm.deals.batch_api.create(
            {"inputs": [{"properties": {"dealname": "C", "referrer_type": "partner"}}]}
        )
    assert "INVALID_OPTION" in _error(bad_option)["message"]


def test_pipelines_read_and_unknown_pipeline_404(fake: FakeHubSpot, client: HubSpot) -> None:
    api = client.crm.pipelines.pipelines_api
    [pipeline] = api.get_all("deals").results
    assert pipeline.id == "default"
    assert [s.id for s in pipeline.stages] == list(DEFAULT_STAGE_MAP)
    won = next(s for s in pipeline.stages if s.id == "closedwon")
    assert won.metadata == {"isClosed": "true", "probability": "1.0"}

    fake.pipelines["partners"] = ["p_intro", "closedwon"]
    assert [s.id for s in api.get_by_id("deals", "partners").stages] == ["p_intro", "closedwon"]
    with pytest.raises(PipelineNotFound):
        api.get_by_id("deals", "nope")


def test_move_deal_stamps_stage_entry_for_reads(
    fake: FakeHubSpot, client: HubSpot, clock: Clock
) -> None:
    deal = fake.add_deal({"dealname": "D", "dealstage": "appointmentscheduled"}, updated_at=T0)
    moved_at = T0 + timedelta(days=3)
    fake.move_deal(deal, "closedwon", moved_at)
    props = fake.objects("deals")[deal]
    assert props["dealstage"] == "closedwon"
    assert props["hs_date_entered_closedwon"] == "2026-03-05T09:00:00.000Z"
    assert props["hs_v2_date_exited_appointmentscheduled"] == "2026-03-05T09:00:00.000Z"
    assert props["hs_is_closed_won"] == "true"

    got = client.crm.deals.basic_api.get_by_id(
        deal, properties=["dealstage"], properties_with_history=["dealstage"]
    )
    assert got.updated_at == moved_at
    assert [h.value for h in got.properties_with_history["dealstage"]] == [
        "closedwon",
        "appointmentscheduled",
    ]


def test_tasks_are_read_by_a_unique_custom_property(fake: FakeHubSpot, client: HubSpot) -> None:
    fake.add_property("tasks", "referral_outbox_key", has_unique_value=True)
    fake.add_property("tasks", "note_text")
    task = fake.add_task({"hs_timestamp": _ms(T0), "referral_outbox_key": "crm-task:ask:1"})

    answer = client.crm.objects.batch_api.read(
        "tasks",
        batch_read_input_simple_public_object_id=ObjectsBatchRead(
            inputs=[{"id": "crm-task:ask:1"}, {"id": "crm-task:ask:9"}],
            properties=["referral_outbox_key"],
            properties_with_history=[],
            id_property="referral_outbox_key",
        ),
    )
    assert [(r.id, r.properties["referral_outbox_key"]) for r in answer.results] == [
        (task, "crm-task:ask:1")
    ]
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert fake.requests[-1].status == 207
    with pytest.raises(ObjectsApiException) as refused:  # only unique properties identify
        client.crm.objects.batch_api.read(
            "tasks",
            batch_read_input_simple_public_object_id=ObjectsBatchRead(
                inputs=[{"id": "x"}],
                properties=[],
                properties_with_history=[],
                id_property="note_text",
            ),
        )
    assert refused.value.status == 400
