"""Properties of CRM records, whatever a portal sends.

Mapping (pure, many cases): never raises; either fields that fit the database columns, or a
rejection naming the record and a field, and never quoting a value. Sync (database, fewer
cases): a page of such records never stops the sync; each record is stored or quarantined,
nothing stored before changes, and a second sync writes nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from db.models import (
    Account,
    Deal,
    Person,
    QuarantinedRecord,
    SandboxCompany,
    SandboxContact,
    SandboxDeal,
)
from domain.crm_records import (
    FIRST_YEAR,
    LAST_YEAR,
    AccountFields,
    DealFields,
    DealMapping,
    PersonFields,
    Rejection,
    map_company,
    map_contact,
    map_deal,
)
from domain.program import load_preset
from domain.stages import DEFAULT_MILESTONES, DEFAULT_STAGE_MAP
from domain.team import map_owner
from domain.text import clean_text
from integrations.sandbox.crm import SandboxCrm
from tasks.sync_crm import sync_crm
from tests.properties.crm_cases import SECRET, UPDATED, VALUE, company, contact, deal
from tests.properties.profiles import scaled

MAPPING = DealMapping(
    "default",
    DEFAULT_STAGE_MAP,
    DEFAULT_MILESTONES,
    known_stage_ids=("contractsent", "closedwon", "closedlost", "11450002"),
    closed_stage_ids=frozenset({"closedwon", "closedlost"}),
)
PROGRAM = load_preset("saas")


def check_rejection(result: Rejection, crm_id: str, props: dict[str, Any]) -> None:
    assert result.crm_id == crm_id and result.field
    assert (
        result.field in props
        or result.field.startswith("hs_")
        or result.field in ("name", "email", "dealstage")
    )
    assert SECRET not in result.reason
    text = str(props.get(result.field, ""))
    if len(text) > 6 and text not in result.field and "Infinity" not in text:
        assert text not in result.reason, (text, result.reason)


def check_time(value: datetime | None) -> None:
    if value is not None:
        assert value.utcoffset() == timedelta(0) and FIRST_YEAR <= value.year <= LAST_YEAR


@settings(max_examples=scaled(300))
@given(props=company())
def test_companies_map_to_storable_fields_or_a_named_rejection(props):
    result = map_company("1", props, UPDATED)
    if isinstance(result, Rejection):
        return check_rejection(result, "1", props)
    assert isinstance(result, AccountFields)
    assert 0 < len(result.name) <= 300 and (result.domain is None or len(result.domain) <= 253)
    assert result.health_score is None or 0 <= result.health_score <= 100
    check_time(result.onboarding_completed_at)
    assert "\x00" not in result.name


@settings(max_examples=scaled(300))
@given(props=contact())
def test_contacts_map_to_storable_fields_or_a_named_rejection(props):
    result = map_contact("2", props, UPDATED, None, lambda title: None)
    if isinstance(result, Rejection):
        return check_rejection(result, "2", props)
    assert isinstance(result, PersonFields)
    assert len(result.email) <= 320 and 0 <= result.linkedin_followers <= 2_000_000_000
    assert len(result.first_name) <= 100 and (result.title is None or len(result.title) <= 200)


@settings(max_examples=scaled(300))
@given(props=deal())
def test_deals_map_in_any_pipeline_and_stage_or_name_the_bad_field(props):
    result = map_deal("3", props, UPDATED, None, MAPPING, "USD")
    if isinstance(result, Rejection):
        return check_rejection(result, "3", props)
    assert isinstance(result, DealFields)
    assert result.amount is None or abs(result.amount) < Decimal(10) ** 12
    assert len(result.currency) == 3 and len(result.crm_stage_id) <= 64
    for _, at in result.stage_entries:
        check_time(at)
    check_time(result.closed_at)
    pipeline = clean_text(props.get("pipeline"), 64) or "default"
    if pipeline != "default" or props.get("dealstage") == "mystery":
        assert result.program_stage is None


@settings(max_examples=scaled(200))
@given(email=VALUE, first=VALUE, last=VALUE, teams=st.lists(st.text(max_size=80), max_size=3))
def test_owners_map_or_name_the_email(email, first, last, teams):
    result = map_owner("9", email, first, last, teams, False)
    if isinstance(result, Rejection):
        assert result.field == "email" and SECRET not in result.reason
    else:
        assert len(result.email) <= 320 and len(result.name) <= 201
        assert result.team is None or len(result.team) <= 64


# --- through the sync, on the database -----------------------------------------------------

_ids = count(500_000)
_clock = count(1)


def _storable(props: dict[str, Any]) -> dict[str, Any]:
    """What the sandbox's JSON column can hold on every database (PostgreSQL's jsonb has no
    NUL and no infinities; the pure mapping tests above cover those values)."""
    return {
        key: (str(value) if isinstance(value, float) and not math.isfinite(value) else value)
        if not isinstance(value, str)
        else value.replace("\x00", "")
        for key, value in props.items()
    }


def _seed(factory, companies, contacts, deals) -> tuple[datetime, dict[str, list[str]]]:
    companies, contacts, deals = (
        [_storable(p) for p in group] for group in (companies, contacts, deals)
    )
    at = UPDATED + timedelta(minutes=next(_clock))
    ids: dict[str, list[str]] = {"company": [], "contact": [], "deal": []}
    with factory.begin() as session:
        for props in companies:
            crm_id = str(next(_ids))
            session.add(
                SandboxCompany(
                    id=crm_id,
                    name="seed",
                    lifecycle="customer",
                    properties=props,
                    created_at=at,
                    updated_at=at,
                )
            )
            ids["company"].append(crm_id)
        session.flush()
        for n, props in enumerate(contacts):
            crm_id = str(next(_ids))
            session.add(
                SandboxContact(
                    id=crm_id,
                    first_name="",
                    last_name="",
                    email=f"seed{crm_id}@seed.example",
                    properties={**props, "email": f"p{crm_id}.{n}@acme.example"}
                    if "email" in props and n % 2
                    else props,
                    created_at=at,
                    updated_at=at,
                )
            )
            ids["contact"].append(crm_id)
        for props in deals:
            crm_id = str(next(_ids))
            session.add(
                SandboxDeal(
                    id=crm_id,
                    name="seed",
                    pipeline_id="default",
                    stage_id="contractsent",
                    source_channel="inbound",
                    properties=props,
                    created_at=at,
                    stage_entered_at=at,
                    updated_at=at,
                )
            )
            ids["deal"].append(crm_id)
    return at, ids


@settings(max_examples=scaled(12))
@given(
    companies=st.lists(company(), min_size=1, max_size=6),
    contacts=st.lists(contact(), max_size=6),
    deals=st.lists(deal(), max_size=6),
)
# Found at the benchmark's knob: closed lost now, yet its history has it entering an open stage
# later (an unreadable-looking stamp that reads as a later date). It was marked reopened and
# its close date cleared, so every later sync wrote it again.
@example(
    companies=[{"name": "Acme"}],
    contacts=[],
    deals=[
        {
            "dealstage": "closedlost",
            "pipeline": "default",
            "dealname": None,
            "hs_v2_date_entered_contractsent": "2027-01-010000000",
        }
    ],
)
def test_a_page_of_any_records_never_stops_the_sync(factory, companies, contacts, deals):
    before = _stored_rows(factory)  # the earlier examples' records: they must stay as they are
    _, ids = _seed(factory, companies, contacts, deals)
    crm = SandboxCrm(factory)

    sync_crm(factory, crm, PROGRAM, ("companies", "contacts", "deals"))
    again = sync_crm(factory, crm, PROGRAM, ("companies", "contacts", "deals"))

    assert sum(r["created"] + r["updated"] for r in again.rows()) == 0
    assert again.quarantined == []
    with factory() as session:
        stored = {
            "company": set(session.scalars(select(Account.crm_id))),
            "contact": set(session.scalars(select(Person.crm_id))),
            "deal": set(session.scalars(select(Deal.crm_id))),
        }
        held = set(session.execute(select(QuarantinedRecord.object_type, QuarantinedRecord.crm_id)))
    for kind, crm_ids in ids.items():
        for crm_id in crm_ids:
            assert (crm_id in stored[kind]) != ((kind, crm_id) in held), (kind, crm_id)
    after = _stored_rows(factory)
    assert {key: after.get(key) for key in before} == before  # nothing stored before changed


def _stored_rows(factory) -> dict[tuple[str, int], dict[str, Any]]:
    """Every stored account, person and deal, column by column."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    with factory() as session:
        for model in (Account, Person, Deal):
            table = model.__table__
            for row in session.execute(select(table)).mappings():
                rows[(table.name, row["id"])] = dict(row)
    return rows
