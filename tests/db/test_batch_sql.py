"""Batch inserts and upserts: on PostgreSQL a batch goes as one array per column, so these
check that every column type arrives as it would through a VALUES list, that an over-long
value is refused (never cut), and that conflicts behave the same on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, StatementError

from db.engine import transaction
from db.models import AuditEntry, Deal, Signal
from db.repositories.arrays import ARRAYS_FROM, _element, array_literal, one_of
from db.repositories.upsert import insert_ignoring_conflicts, insert_rows, upsert
from domain.signals import SignalKind, SignalSource
from domain.stages import ProgramStage
from tests.conftest import is_postgres

T = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SIZES = [2, ARRAYS_FROM, 40]  # a VALUES list, and the array path from its first size


def _deals(count: int, amount: Decimal) -> list[dict]:
    return [
        {
            "crm_id": f"d{i}",
            "name": f"Deal <{i}> ünïcode",
            "pipeline_id": "default",
            "crm_stage_id": "s1",
            "program_stage": ProgramStage.DISCOVERY if i % 2 else None,
            "amount": amount + i if i % 3 else None,
            "currency": "EUR",
            "crm_created_at": T + timedelta(minutes=i),
            "closed_at": None,
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("count", SIZES)
def test_an_upsert_stores_each_type_and_updates_only_the_named_columns(factory, count):
    with transaction(factory) as session:
        upsert(session, Deal.__table__, _deals(count, Decimal("10.25")), ["crm_id"], ["amount"])
    changed = [{**row, "name": "renamed"} for row in _deals(count, Decimal("99.50"))]
    with transaction(factory) as session:
        upsert(session, Deal.__table__, changed, ["crm_id"], ["amount"])

    with factory() as session:
        deals = {d.crm_id: d for d in session.scalars(select(Deal))}
    assert len(deals) == count
    for i in range(count):
        deal = deals[f"d{i}"]
        assert deal.name == f"Deal <{i}> ünïcode"  # not an update column: kept
        assert deal.amount == (Decimal("99.50") + i if i % 3 else None)
        assert deal.program_stage == (ProgramStage.DISCOVERY if i % 2 else None)
        assert deal.crm_created_at == T + timedelta(minutes=i)
        assert deal.closed_at is None
        assert deal.currency == "EUR"
        assert deal.created_at is not None  # the model's own default, given by none of the rows


@pytest.mark.parametrize("count", SIZES)
def test_an_insert_skips_what_is_stored_and_counts_what_it_added(factory, count):
    rows = [
        {
            "external_id": f"s{i}",
            "kind": SignalKind.NPS,
            "source": SignalSource.FILE,
            "account_crm_id": "c1",
            "person_email": None,
            "value": Decimal(i % 11),
            "text": "line one\nline two" if i == 0 else None,
            "occurred_at": T,
            "ingested_at": T,
        }
        for i in range(count)
    ]
    with transaction(factory) as session:
        assert insert_ignoring_conflicts(session, Signal.__table__, rows[:1], ["external_id"]) == 1
    with transaction(factory) as session:
        added = insert_ignoring_conflicts(session, Signal.__table__, rows, ["external_id"])
    assert added == count - 1
    with factory() as session:
        stored = session.scalars(select(Signal).order_by(Signal.id)).all()
    assert [(s.external_id, s.kind, s.value) for s in stored] == [
        (f"s{i}", SignalKind.NPS, Decimal(i % 11)) for i in range(count)
    ]
    assert stored[0].text == "line one\nline two"


@pytest.mark.skipif(not is_postgres(), reason="SQLite does not enforce a VARCHAR's length")
@pytest.mark.parametrize("count", SIZES)
def test_an_over_long_value_is_refused_not_cut(factory, count):
    rows = _deals(count, Decimal("1"))
    rows[-1]["currency"] = "EURO"  # the column holds three characters
    with pytest.raises((DataError, StatementError)), transaction(factory) as session:
        upsert(session, Deal.__table__, rows, ["crm_id"], ["currency"])
    with factory() as session:
        assert session.scalars(select(Deal)).all() == []


@pytest.mark.parametrize("count", SIZES)
def test_one_of_finds_exactly_the_values_listed(factory, count):
    with transaction(factory) as session:
        upsert(session, Deal.__table__, _deals(50, Decimal("1")), ["crm_id"], ["amount"])
    wanted = [f"d{i}" for i in range(0, 2 * count, 2)] + ["missing", "d1'); --"]
    with factory() as session:
        by_text = session.scalars(select(Deal.crm_id).where(one_of(session, Deal.crm_id, wanted)))
        ids = session.scalars(select(Deal.id).where(Deal.crm_id.in_(wanted[:count]))).all()
        by_int = session.scalars(select(Deal.crm_id).where(one_of(session, Deal.id, ids)))
        times = [T + timedelta(minutes=i) for i in range(count)]
        by_time = session.scalars(
            select(Deal.crm_id).where(one_of(session, Deal.crm_created_at, times))
        )
        found = sorted(by_text), sorted(by_int), sorted(by_time)
    expected = sorted(f"d{i}" for i in range(0, 2 * count, 2) if i < 50)
    assert found == (expected, expected, sorted(f"d{i}" for i in range(count)))


@pytest.mark.parametrize("count", SIZES)
def test_json_values_arrive_as_given(factory, count):
    details = [{"reasons": ["a", f"b{i}"], "quote": 'it\'s "fine"\n'} for i in range(count)]
    rows = [
        {
            "occurred_at": T,
            "actor": "test",
            "action": "checked",
            "entity_type": "signal",
            "entity_id": str(i),
            "details": details[i],
        }
        for i in range(count)
    ]
    with transaction(factory) as session:
        insert_rows(session, AuditEntry.__table__, rows)
    with factory() as session:
        stored = session.execute(
            select(AuditEntry.entity_id, AuditEntry.details).order_by(AuditEntry.id)
        ).all()
    assert [(e, d) for e, d in stored] == [(str(i), details[i]) for i in range(count)]


AWKWARD = [
    "",
    " padded ",
    "NULL",
    "null",
    '"',
    "\\",
    '\\"',
    "a,b",
    "{x}",
    "{}",
    "tab\tand\nline",
    "'); DROP TABLE deals; --",
    "ünïcode ✓ 𝄞",
    "\x01 a control character",
]


@pytest.mark.parametrize("count", SIZES)
def test_every_string_arrives_as_written(factory, count):
    """The array path writes each element itself: quotes, backslashes, braces, commas, the
    word NULL and blanks must arrive as they were, in their own rows."""
    names = [AWKWARD[i % len(AWKWARD)] + ("" if i < len(AWKWARD) else str(i)) for i in range(count)]
    rows = [{**row, "name": names[i]} for i, row in enumerate(_deals(count, Decimal("1")))]
    with transaction(factory) as session:
        upsert(session, Deal.__table__, rows, ["crm_id"], ["name"])
    with factory() as session:
        stored = dict(session.execute(select(Deal.crm_id, Deal.name)).tuples().all())
        found = sorted(
            session.scalars(select(Deal.crm_id).where(one_of(session, Deal.name, names)))
        )
    assert stored == {f"d{i}": names[i] for i in range(count)}
    assert found == sorted(f"d{i}" for i in range(count))


@pytest.mark.skipif(not is_postgres(), reason="a PostgreSQL setting")
def test_postgresql_plans_each_batch_for_its_own_values(factory):
    with factory() as session:
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"


@pytest.mark.skipif(not is_postgres(), reason="PostgreSQL's planner")
def test_postgresql_plans_an_array_as_the_constant_it_is(factory):
    """The array must reach the planner as a constant: as an expression (a cast of text) it
    is guessed at ten values, and a lookup of a thousand plans as a full scan."""
    with factory() as session:
        query = select(Deal.id).where(one_of(session, Deal.crm_id, [f"d{i}" for i in range(50)]))
        compiled = query.compile(session.get_bind())
        cursor = session.connection().connection.driver_connection.cursor()
        cursor.execute(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ANY ('{d0,d1,d2," in plan
    assert "cstring" not in plan


@example([None, "\x01", "a\x00b", "", "NULL"])
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from('ab",\\{} \x00\x01NUL')))))
def test_an_array_of_strings_is_written_as_element_by_element(values):
    """The string path escapes the joined values in one go; it must give what quoting each
    value on its own gives, also when a value holds the separator or the NULL marker."""
    one_by_one = ",".join(
        "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values
    )
    assert array_literal(values) == "{" + one_by_one + "}"


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(-(2**62), 2**62),
            st.datetimes(timezones=st.just(UTC)),
            st.dates(),
            st.booleans(),
            st.decimals(allow_nan=False, allow_infinity=False, places=2),
        )
    ),
    st.booleans(),
)
def test_an_array_of_other_values_is_written_as_element_by_element(values, one_type):
    """Columns of one type take a pass without a call per value; each must read as the
    value-by-value rule writes it, mixed lists included."""
    if one_type and values:  # mostly one column's type, with its NULLs
        kind = type(next((v for v in values if v is not None), None))
        values = [v for v in values if v is None or type(v) is kind]
    one_by_one = ",".join("NULL" if v is None else _element(v) for v in values)
    assert array_literal(values) == "{" + one_by_one + "}"
