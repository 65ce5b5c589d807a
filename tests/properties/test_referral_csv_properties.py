"""Properties of ``referrals import referrals FILE.csv`` over generated files (see
``referral_csv_cases``), on a database that already holds a program's people, an ask, a
referral and a suppression.

Whatever the file holds: nothing but ``SignalFileError`` escapes; every row is counted once;
every certainly-invalid row is named by its line and field in one printable line that never
repeats a value; a rejected row leaves nothing behind (no referral, no person, no email);
every valid row is stored; nothing stored before is changed or lost (only the named ask
becomes "intro made"); a suppressed referrer gets no email; importing again changes nothing.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import transaction
from db.models import Ask, Person
from db.repositories.suppressions import NewSuppression, suppress
from domain.program import load_preset
from domain.referrals.intake import Intake
from domain.signals import SignalKind
from domain.statuses import ReferralChannel
from tasks.detect_moments import detect_moments
from tasks.referrals.capture import CaptureInput, capture_referrals
from tasks.referrals.rows import ReferralImport, import_referrals
from tasks.signal_files import read_rows
from tests.conftest import T0
from tests.properties.profiles import scaled
from tests.properties.referral_csv_cases import SECRET, ReferralFile, Seeded, referral_file
from tests.properties.snapshots import Snapshot, compare, snapshot
from tests.scenario import World

PROGRAM = load_preset("saas")
SETTINGS = Settings(REFERRALS_SECRET_KEY="referral-csv-properties")  # type: ignore[call-arg]
MESSAGE = re.compile(r"line (\d+)(?:, field '([^']*)')?: (.+)")
TABLES = ("referrals", "people", "outbox", "asks", "suppressions", "accounts", "audit_log")
ASK_OUTCOME = {"asks": ("status", "outcome_at", "updated_at")}


def seed(factory: sessionmaker[Session]) -> Seeded:
    """A CSM, a client with a champion who has an open ask, a second champion who
    unsubscribed, and one referral already captured."""
    world = World(factory)
    account = world.account(world.csm())
    champion = world.person(account)
    quiet = world.person(account)
    world.signal(account, SignalKind.FEEDBACK_POSITIVE, T0 - timedelta(hours=3))
    detect_moments(factory, PROGRAM, T0 - timedelta(hours=2))
    with transaction(factory) as session:
        [referrer, unsubscribed] = [session.get(Person, i).email for i in (champion, quiet)]
        ask_id = session.scalars(select(Ask.id)).one()
        suppress(session, [NewSuppression(unsubscribed, "unsubscribe", "link")], T0)
    capture_referrals(
        factory,
        PROGRAM,
        SETTINGS,
        [
            CaptureInput(
                ReferralChannel.SALES_ASSISTED,
                Intake("Earlier Ltd", "cfo@earlier.example", domain="earlier.example"),
                referrer_email=referrer,
                external_id="seeded-1",
            )
        ],
        T0 - timedelta(days=1),
    )
    return Seeded(referrer, unsubscribed, ask_id, ask_id + 1000)


@pytest.fixture
def seeded(factory: sessionmaker[Session]) -> Iterator[tuple[sessionmaker[Session], Seeded]]:
    yield factory, seed(factory)


def imported(factory: sessionmaker[Session], case: ReferralFile, folder: str) -> ReferralImport:
    path = Path(folder) / "intros.csv"
    path.write_bytes(case.data)
    return import_referrals(factory, PROGRAM, SETTINGS, read_rows(path), T0)


def named(report: ReferralImport) -> dict[int, set[str | None]]:
    """Line -> the fields its messages name (None: the whole row)."""
    fields: dict[int, set[str | None]] = {}
    for message in report.errors:
        assert message and all(c.isprintable() for c in message), repr(message)
        assert SECRET not in message, message
        match = MESSAGE.fullmatch(message)
        assert match, message
        fields.setdefault(int(match.group(1)), set()).add(match.group(2))
    return fields


@settings(max_examples=scaled(200))
@given(data=st.data())
def test_bad_rows_are_named_and_leave_nothing_good_rows_are_stored_nothing_is_lost(
    seeded: tuple[sessionmaker[Session], Seeded], data: st.DataObject
) -> None:
    factory, world = seeded
    case = data.draw(referral_file(world))
    each_case = factory.kw["bind"].begin_nested()  # the seeded world again for every case
    try:
        before = snapshot(factory, TABLES)
        with tempfile.TemporaryDirectory() as folder:
            first = imported(factory, case, folder)
            middle = snapshot(factory, TABLES)
            again = imported(factory, case, folder)
        after = snapshot(factory, TABLES)
        check(case, world, first, before, middle)
        assert (again.read, again.new, again.unchanged) == (first.read, 0, first.new)
        assert again.errors == first.errors
        assert compare(middle, after) == {name: [] for name in TABLES}
    finally:
        each_case.rollback()


def check(
    case: ReferralFile, world: Seeded, report: ReferralImport, before: Snapshot, after: Snapshot
) -> None:
    assert report.read == len(case.rows)
    assert report.new + report.unchanged + report.rejected == report.read
    fields = named(report)
    new = compare(before, after, may_change=ASK_OUTCOME)
    companies = {row["referred_company_name"] for row in new["referrals"]}
    assert report.new == len(new["referrals"])
    for row in case.rows:
        if row.outcome == "valid":
            assert row.line not in fields, (row.line, report.errors)
            assert row.company in companies, (row.line, row.values)
        elif row.outcome == "invalid":
            assert row.bad_field in fields.get(row.line, set()), (row, report.errors)
            assert row.company not in companies, row.values
        else:
            assert (row.line in fields) != (row.company in companies), (row, report.errors)
    # A rejected row leaves no trace: every new person referred something that was stored.
    referrers = {row["referrer_email"] for row in new["referrals"]}
    assert {p["email"] for p in new["people"]} <= referrers
    # One "thanks, we have it" per new referral, never to an address that unsubscribed.
    assert len(new["outbox"]) == len(
        [r for r in new["referrals"] if r["referrer_email"] != world.suppressed_referrer]
    )
    assert not new["suppressions"] and not new["accounts"]
    # The ask becomes "intro made" only through an intro that was stored.
    ask_before, ask_after = (s["asks"][(world.ask_id,)]["status"] for s in (before, after))
    if ask_before != ask_after:
        assert world.ask_id in {row["ask_id"] for row in new["referrals"]}


# --- what the property found (kept as plain examples) ----------------------------------------


def test_refused_rows_leave_no_person_no_ask_change_and_name_their_field(
    seeded: tuple[sessionmaker[Session], Seeded],
) -> None:
    factory, world = seeded
    data = (
        "referrer_email,company,referrer_type,ask_id\n"
        f"new.partner@partner.example,Unknown Type Ltd,nosuchtype,{world.ask_id}\n"
        f"other.partner@partner.example,Missing Ask Ltd,,{world.missing_ask_id}\n"
        f"{world.referrer},Odd Digit Ltd,,²\n"
        f"{world.referrer},Huge Id Ltd,,99999999999999999999\n"
        f"{world.referrer},Good Ltd,,\n"
    ).encode()
    before = snapshot(factory, TABLES)
    with tempfile.TemporaryDirectory() as folder:
        report = imported(factory, ReferralFile(data), folder)
    assert report.errors == [
        "line 4, field 'ask_id': must be a whole number (an ask's id)",
        "line 5, field 'ask_id': must be a whole number (an ask's id)",
        "line 2, field 'referrer_type': is not one of the program's referrer types "
        "(client, partner)",
        "line 3, field 'ask_id': no ask has this id",
    ]
    new = compare(before, snapshot(factory, TABLES))  # the ask is not "intro made" either
    assert [r["referred_company_name"] for r in new["referrals"]] == ["Good Ltd"]
    assert new["people"] == []
