"""Signal ingest over a database that already holds signals: whatever the file, every signal
stored before is still there with the same facts, a rejected row adds nothing, and only the
rows counted new are added (``test_signal_file_properties`` checks the rows themselves)."""

from __future__ import annotations

import tempfile
from datetime import timedelta

from hypothesis import given, settings
from sqlalchemy.orm import Session, sessionmaker

from domain.signals import SignalKind
from tasks.ingest_signals import ingest_rows, read_rows
from tests.conftest import T0
from tests.properties.profiles import scaled
from tests.properties.signal_cases import SignalFile, signal_file
from tests.properties.snapshots import compare, snapshot
from tests.properties.test_signal_file_properties import written
from tests.scenario import World

TABLES = ("signals", "accounts", "people", "moments", "asks")


@settings(max_examples=scaled(200))
@given(case=signal_file(max_rows=8))
def test_nothing_stored_before_is_lost_and_only_new_rows_are_added(
    case: SignalFile, factory: sessionmaker[Session]
) -> None:
    each_case = factory.kw["bind"].begin_nested()
    try:
        world = World(factory)
        account = world.account(world.csm())
        for hours in (1, 2, 3):
            world.signal(account, SignalKind.NPS, T0 - timedelta(hours=hours), value=9)
        before = snapshot(factory, TABLES)
        with tempfile.TemporaryDirectory() as folder:
            report = ingest_rows(factory, read_rows(written(case, folder)), T0)
        new = compare(before, snapshot(factory, TABLES))
        assert len(new["signals"]) == report.new
        assert not new["accounts"] and not new["people"] and not new["asks"]
    finally:
        each_case.rollback()
