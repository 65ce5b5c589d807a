"""The migrations build the schema the models describe, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError, StatementError

import db.models  # noqa: F401
from db.base import Base
from db.engine import engine_for, make_engine, normalise_url
from db.migrate import downgrade, upgrade
from db.models import (
    Account,
    Deal,
    Referral,
    Reward,
    RewardLedgerEntry,
    TeamMember,
)
from domain.stages import ProgramStage
from domain.statuses import LedgerEntry, ReferralChannel
from tests.conftest import T0, is_postgres


def _schema(url: str) -> dict[str, set[str]]:
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
            if table != "alembic_version"
        }
    finally:
        engine.dispose()


def test_migrations_match_the_models(shared_url):
    with engine_for(normalise_url(shared_url)).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_the_schema_has_every_table_of_the_journey(shared_url):
    schema = _schema(shared_url)
    assert set(schema) == set(Base.metadata.tables)
    for table in (
        "accounts",
        "people",
        "team_members",
        "referrer_types",
        "signals",
        "moments",
        "asks",
        "referrals",
        "stage_events",
        "rewards",
        "reward_ledger",
        "outbox",
        "audit_log",
    ):
        assert table in schema


def test_sqlite_and_this_database_get_the_same_tables(shared_url, tmp_path):
    sqlite_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(sqlite_url)
    assert _schema(sqlite_url) == _schema(shared_url)


def test_downgrade_to_nothing_and_back(committed_url):
    downgrade(committed_url, "base")
    assert _schema(committed_url) == {}
    upgrade(committed_url)
    assert set(_schema(committed_url)) == set(Base.metadata.tables)


def _ledger_entry(factory) -> int:
    with factory.begin() as session:
        account = Account(crm_id="c1", name="Client")
        csm = TeamMember(email="csm@vendor.example", name="Casey")
        session.add_all([account, csm])
        deal = Deal(crm_id="d1", pipeline_id="default", crm_stage_id="closedwon")
        session.add(deal)
        session.flush()
        referral = Referral(
            external_id="r1",
            referrer_type_key="client",
            channel=ReferralChannel.LINK,
            referred_company_name="Prospect",
            submitted_at=T0,
            deal_id=deal.id,
        )
        session.add(referral)
        session.flush()
        reward = Reward(
            referral_id=referral.id,
            rule_key="credit",
            reward_type="cash",
            amount=Decimal("500"),
            qualifying_stage=ProgramStage.FIRST_PAYMENT,
        )
        session.add(reward)
        session.flush()
        entry = RewardLedgerEntry(
            reward_id=reward.id,
            entry=LedgerEntry.ACCRUED,
            amount=Decimal("500"),
            currency="USD",
            occurred_at=T0,
            actor="release-rewards",
        )
        session.add(entry)
        session.flush()
        return entry.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reward_ledger SET amount = 1 WHERE id = :id",
        "DELETE FROM reward_ledger WHERE id = :id",
    ],
)
def test_the_reward_ledger_is_append_only(committed_factory, statement):
    entry_id = _ledger_entry(committed_factory)
    with pytest.raises(DatabaseError, match="append-only"):  # noqa: SIM117
        with committed_factory.begin() as session:
            session.execute(text(statement), {"id": entry_id})
    with committed_factory() as session:
        assert session.get(RewardLedgerEntry, entry_id).amount == Decimal("500")


def test_naive_datetimes_are_refused(factory):
    with pytest.raises(StatementError, match="naive datetime"):  # noqa: SIM117
        with factory.begin() as session:
            session.add(Account(crm_id="x", name="X", crm_updated_at=datetime(2026, 1, 1)))


def test_datetimes_come_back_aware_utc(factory):
    with factory.begin() as session:
        session.add(Account(crm_id="y", name="Y", crm_updated_at=T0))
    with factory() as session:
        value = session.query(Account).filter_by(crm_id="y").one().crm_updated_at
    assert value == T0 and value.utcoffset().total_seconds() == 0


def test_the_backend_is_the_one_requested(shared_url):
    assert shared_url.startswith("postgresql") == is_postgres()
