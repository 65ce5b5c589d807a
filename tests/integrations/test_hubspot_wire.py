"""The HubSpot adapter on the wire: request shapes, auth, limits, retries and HubSpot's errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.models import Account, CrmIssue
from domain.program import load_preset
from integrations.errors import PermanentError
from integrations.hubspot.factory import build_hubspot_crm
from integrations.ports import program_properties
from tasks.sync_crm import sync_crm
from tests.factories import referral_push
from tests.fakes.hubspot_server import FakeHubSpot

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
PROGRAM = load_preset("saas")


@pytest.fixture
def fake():
    with FakeHubSpot(now=lambda: T0) as server:
        yield server


def adapter(fake: FakeHubSpot, slept: list[float] | None = None, searches_per_second: int = 100):
    return build_hubspot_crm(
        fake.token,
        fake.base_url,
        calls_per_10s=1000,
        searches_per_second=searches_per_second,
        sleep=slept.append if slept is not None else None,
    )


def searches(fake: FakeHubSpot, object_type: str):
    return [r for r in fake.requests if r.path == f"/crm/v3/objects/{object_type}/search"]


def test_search_requests_filter_sort_and_page_by_last_modified(fake):
    for i in range(250):
        fake.add_company(
            {"name": f"C{i}", "domain": f"c{i}.example"}, updated_at=T0 + timedelta(minutes=i)
        )
    crm = adapter(fake)
    since = T0 - timedelta(days=1)

    first = crm.changed_since("companies", since, ["name", "domain"])
    second = crm.changed_since("companies", since, ["name", "domain"], after=first.after)

    assert (len(first.records), len(second.records), second.after) == (200, 50, None)
    body = searches(fake, "companies")[0].json
    assert body["filterGroups"] == [
        {
            "filters": [
                {
                    "propertyName": "hs_lastmodifieddate",
                    "operator": "GTE",
                    "value": str(int(since.timestamp() * 1000)),
                }
            ]
        }
    ]
    assert body["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert body["limit"] == 200 and "after" not in body
    assert set(body["properties"]) == {"name", "domain", "hs_lastmodifieddate"}
    assert searches(fake, "companies")[1].json["after"] == first.after
    assert all(r.headers["authorization"] == f"Bearer {fake.token}" for r in fake.requests)
    times = [r.updated_at for r in first.records + second.records]
    assert times == sorted(times)


def test_deal_search_reads_every_pipeline(fake):
    adapter(fake).changed_since("deals", T0, ["dealname"])
    filters = searches(fake, "deals")[0].json["filterGroups"][0]["filters"]
    assert [f["propertyName"] for f in filters] == ["hs_lastmodifieddate"]


def test_a_record_without_a_readable_time_is_kept_at_the_page_floor_not_at_now(fake):
    """Were it placed at now, the sync's next page would be asked from now and every record
    modified in between would be skipped for good."""
    since = T0 - timedelta(days=1)
    at = T0 - timedelta(hours=2)

    def result(crm_id: str, when: str | None) -> dict[str, object]:
        found: dict[str, object] = {"id": crm_id, "properties": {"name": f"C{crm_id}"}}
        if when is not None:
            found["properties"]["hs_lastmodifieddate"] = when  # type: ignore[index]
            found["updatedAt"] = when
        return found

    page = {
        "total": 3,
        "results": [result("1", at.isoformat()), result("2", None), result("3", "not a time")],
        "paging": {"next": {"after": "3"}},
    }
    fake.fail_next("POST", "/crm/v3/objects/companies/search", 200, body=page)
    records = adapter(fake).changed_since("companies", since, ["name"]).records
    assert [(r.crm_id, r.updated_at) for r in records] == [("1", at), ("2", since), ("3", since)]
    assert [r.time_unread for r in records] == [False, True, True]
    assert records[1].properties["name"] == "C2"


def test_the_sync_keeps_records_without_a_readable_time_and_flags_them_once(fake, factory):
    fake.add_company({"name": "Later", "domain": "later.example"}, updated_at=T0)
    odd = {"id": "901", "properties": {"name": "No time", "domain": "no-time.example"}}
    page = {"total": 1, "results": [odd], "paging": {"next": {"after": "901"}}}
    fake.fail_next("POST", "/crm/v3/objects/companies/search", 200, body=page)
    report = sync_crm(factory, adapter(fake, []), PROGRAM, ("companies",))
    assert report.by_type["companies"].created == 2  # the record after it was not skipped
    with factory() as session:
        names = set(session.scalars(select(Account.name)))
        flags = [(i.kind, i.key, i.records) for i in session.scalars(select(CrmIssue))]
    assert names == {"No time", "Later"}
    assert flags == [("unreadable_value", "companies.last_modified", 1)]


def test_429_is_retried_after_its_retry_after(fake):
    fake.fail_next("POST", "/crm/v3/objects/companies/search", 429, headers={"Retry-After": "3"})
    slept: list[float] = []
    page = adapter(fake, slept).changed_since("companies", T0, ["name"])
    assert page.records == [] and 3.0 in slept
    assert [r.status for r in searches(fake, "companies")] == [429, 200]


def test_429_with_retry_after_1_waits_at_least_a_second_in_real_time(fake):
    fake.fail_next("POST", "/crm/v3/objects/companies/search", 429, headers={"Retry-After": "1"})
    started = time.monotonic()
    adapter(fake).changed_since("companies", T0, ["name"])
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in searches(fake, "companies")] == [429, 200]


def test_5xx_is_retried_with_backoff(fake):
    fake.fail_next("POST", "/crm/v3/objects/deals/search", 502, times=2)
    slept: list[float] = []
    adapter(fake, slept).changed_since("deals", T0, ["dealname"])
    assert [r.status for r in searches(fake, "deals")] == [502, 502, 200]
    assert len(slept) == 2 and all(s > 0 for s in slept)


def test_a_400_keeps_hubspots_message_and_is_not_retried(fake):
    fake.fail_next(
        "POST",
        "/crm/v3/objects/contacts/search",
        400,
        body={
            "status": "error",
            "message": "There was a problem with the request.",
            "correlationId": "abc-123",
            "category": "VALIDATION_ERROR",
        },
    )
    with pytest.raises(PermanentError) as raised:
        adapter(fake, []).changed_since("contacts", T0, ["email"])
    assert str(raised.value) == (
        "HubSpot 400 VALIDATION_ERROR: There was a problem with the request. "
        "(correlationId abc-123)"
    )
    assert len(searches(fake, "contacts")) == 1


def test_a_wrong_token_is_a_permanent_error_naming_the_cause(fake):
    crm = build_hubspot_crm("wrong-token", fake.base_url)
    with pytest.raises(PermanentError, match="HubSpot 401"):
        crm.changed_since("companies", T0, ["name"])


def test_the_client_side_limiter_keeps_searches_under_hubspots_secondly_limit():
    with FakeHubSpot(now=lambda: T0, search_limit_per_second=3) as fake:
        for i in range(5):
            fake.add_company({"name": f"C{i}"}, updated_at=T0)
        crm = adapter(fake, searches_per_second=3)  # the server's own limit, no headroom
        started = time.monotonic()
        for _ in range(7):
            crm.changed_since("companies", T0, ["name"])
        elapsed = time.monotonic() - started
    assert all(r.status == 200 for r in fake.requests if r.path.endswith("/search"))
    assert elapsed >= 2.0  # 7 searches at 3 per second


def test_sync_survives_a_transient_failure_midway_and_loses_nothing(fake, factory):
    for i in range(450):
        fake.add_company(
            {"name": f"C{i}", "domain": f"c{i}.example"}, updated_at=T0 + timedelta(seconds=i)
        )
    fake.fail_next("POST", "/crm/v3/objects/companies/search", 503, times=1)
    report = sync_crm(factory, adapter(fake, []), PROGRAM, ("companies",))
    assert report.by_type["companies"].created == 450


def test_referral_push_uses_batch_calls_with_associations_and_program_properties(fake):
    crm = adapter(fake, [])
    crm.setup(program_properties())
    # A rep tags their own deal with a code: setup makes the property for it.
    assert "referral_code" in fake.store.definitions("deals")
    pushes = [referral_push(n) for n in range(3)]
    fake.requests.clear()
    fake.reverse_batch_results = True
    results = crm.push_referrals(pushes)

    assert [r.created for r in results] == [("company", "contact", "deal")] * 3
    by_path = {}
    for request in fake.requests:
        by_path.setdefault(f"{request.method} {request.path}", []).append(request)
    assert {k: len(v) for k, v in by_path.items()} == {
        "POST /crm/v3/objects/deals/search": 1,  # already pushed? (idempotency)
        "POST /crm/v3/objects/companies/search": 1,  # match by domain
        "POST /crm/v3/objects/companies/batch/create": 1,
        "POST /crm/v3/objects/contacts/batch/read": 1,  # match by email
        "POST /crm/v3/objects/contacts/batch/create": 1,
        "POST /crm/v3/objects/deals/batch/create": 1,
    }
    deal_search = by_path["POST /crm/v3/objects/deals/search"][0].json
    assert deal_search["filterGroups"][0]["filters"][0] == {
        "propertyName": "referral_program_id",
        "operator": "IN",
        "values": ["ref-0", "ref-1", "ref-2"],
    }
    assert by_path["POST /crm/v3/objects/contacts/batch/read"][0].json["idProperty"] == "email"
    deal_input = by_path["POST /crm/v3/objects/deals/batch/create"][0].json["inputs"][0]
    assert deal_input["properties"] == {
        "dealname": "Prospect 0 (referral)",
        "pipeline": "default",
        "dealstage": "appointmentscheduled",
        "referral_program_id": "ref-0",
        "referred_by_email": "ana@client.example",
        "referral_source": "Client referral",
        "referrer_type": "client",
    }
    assert sorted(
        (a["to"]["id"], a["types"][0]["associationTypeId"]) for a in deal_input["associations"]
    ) == sorted([(results[0].company_id, 341), (results[0].contact_id, 3)])
    assert fake.associations("contacts", results[0].contact_id, "companies") == [
        results[0].company_id
    ]
    for n, result in enumerate(results):  # results are matched by key, not by position
        assert fake.objects("deals")[result.deal_id]["referral_program_id"] == f"ref-{n}"
        assert fake.objects("contacts")[result.contact_id]["email"] == f"cfo@prospect{n}.example"
        assert fake.objects("companies")[result.company_id]["domain"] == f"prospect{n}.example"


def test_crm_tasks_are_batch_created_with_associations_once(fake):
    from integrations.ports import CrmTask

    crm = adapter(fake, [])
    crm.setup(program_properties())
    company = fake.add_company({"name": "Acme", "domain": "acme.example"}, updated_at=T0)
    contact = fake.add_contact({"email": "ana@acme.example"}, company_id=company, updated_at=T0)
    tasks = [
        CrmTask(
            f"crm-task:ask:{n}",
            f"Ask Ana for an intro ({n})",
            "Script...",
            T0 + timedelta(days=7),
            None,
            company,
            contact,
            "HIGH",
        )
        for n in range(3)
    ]
    fake.requests.clear()
    fake.reverse_batch_results = True

    first = crm.create_tasks(tasks)
    again = crm.create_tasks(tasks)

    assert [r.provider_id for r in first] == [r.provider_id for r in again]
    assert [fake.objects("tasks")[r.provider_id]["referral_outbox_key"] for r in first] == [
        t.dedupe_key for t in tasks
    ]
    creates = [r for r in fake.requests if r.path == "/crm/v3/objects/tasks/batch/create"]
    # The repeat is refused on the unique key (409) and settled by reading the keys back.
    assert [r.status for r in creates] == [201, 409] and len(creates[0].json["inputs"]) == 3
    assert len(fake.objects("tasks")) == 3
    task_input = creates[0].json["inputs"][0]
    assert task_input["properties"]["referral_outbox_key"] == "crm-task:ask:0"
    assert task_input["properties"]["hs_task_status"] == "NOT_STARTED"
    assert sorted(
        (a["to"]["id"], a["types"][0]["associationTypeId"]) for a in task_input["associations"]
    ) == sorted([(company, 192), (contact, 204)])
    assert crm.find_tasks(["crm-task:ask:1", "crm-task:ask:9"]) == {
        "crm-task:ask:1": first[1].provider_id,
        "crm-task:ask:9": None,
    }
    # Looked up by the unique key with a batch read, never the (lagging) search index.
    read = [r for r in fake.requests if r.path == "/crm/v3/objects/tasks/batch/read"][-1]
    assert read.json["idProperty"] == "referral_outbox_key" and not searches(fake, "tasks")


def test_one_bad_referral_fails_alone_and_the_rest_of_its_batch_goes_through(fake):
    crm = adapter(fake, [])
    crm.setup(program_properties())
    pushes = [
        referral_push(
            n,
            contact_title=None,
            deal_name=f"Prospect {n}",
            stage_id="no_such_stage" if n == 1 else "appointmentscheduled",
        )
        for n in range(3)
    ]
    results = crm.push_referrals(pushes)

    assert [r.error is None for r in results] == [True, False, True]
    assert "HubSpot 400" in (results[1].error or "")
    assert len(fake.objects("deals")) == 2
    assert len(fake.objects("companies")) == 3  # created once by the batch, then matched
    assert len(fake.objects("contacts")) == 3
