"""Signal ingest: good rows stored, bad rows named by row and field, re-import is a no-op."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select, text

from db.models import Signal
from domain.signals import SignalKind
from tasks import ingest_signals
from tasks.ingest_signals import SignalFileError, ingest_rows, read_rows
from tests.conftest import T0, is_postgres

GOOD = [
    {
        "external_id": "nps-1",
        "kind": "nps",
        "account_crm_id": "101",
        "person_email": "Ana@Client.example",
        "value": "10",
        "text": "Love it",
        "occurred_at": "2026-02-01T10:00:00Z",
    },
    {
        "external_id": "roi-1",
        "kind": "roi_milestone",
        "account_crm_id": "101",
        "text": "cut close from 9 to 4 days",
        "occurred_at": "2026-02-02",
    },
    {
        "external_id": "ren-1",
        "kind": "renewal_signed",
        "account_crm_id": "102",
        "value": "24500.00",
        "occurred_at": "2026-02-03T08:00:00+01:00",
    },
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def stored(factory) -> list[tuple]:
    with factory() as session:
        return [
            (
                s.external_id,
                s.kind,
                s.account_crm_id,
                s.person_email,
                s.value,
                s.text,
                s.occurred_at,
            )
            for s in session.scalars(select(Signal).order_by(Signal.external_id))
        ]


def test_importing_the_same_file_twice_leaves_the_same_rows(factory, tmp_path):
    path = write_jsonl(tmp_path / "signals.jsonl", GOOD)
    first = ingest_rows(factory, read_rows(path), T0)
    rows_after_first = stored(factory)
    second = ingest_rows(factory, read_rows(path), T0)

    assert (first.new, first.unchanged, first.rejected) == (3, 0, [])
    assert (second.new, second.unchanged, second.rejected) == (0, 3, [])
    assert stored(factory) == rows_after_first
    by_id = {row[0]: row for row in rows_after_first}
    assert by_id["nps-1"][3] == "ana@client.example"  # emails are normalised
    assert by_id["ren-1"][6].isoformat() == "2026-02-03T07:00:00+00:00"  # stored as UTC


def test_bad_rows_are_named_by_line_and_field_and_good_rows_still_import(factory, tmp_path):
    path = write_csv(
        tmp_path / "signals.csv",
        "external_id,kind,account_crm_id,person_email,value,text,occurred_at,source",
        [
            "a-1,nps,201,ok@client.example,9,,2026-02-01T09:00:00Z,",  # good
            "a-2,nps,201,,11,,2026-02-01T09:00:00Z,",  # NPS out of range
            "a-3,party,201,,,,2026-02-01T09:00:00Z,",  # unknown kind
            "a-4,csat,201,ana.lopez@,4,,2026-02-01,",  # bad email
            ",renewal_signed,202,,,,2026-02-01T09:00:00,",  # no id, naive time
            "a-6,upsell_signed,202,,12.345,,2026-02-04T09:00:00Z,crm",  # 3 decimals
            "a-1,nps,201,ok@client.example,9,,2026-02-01T09:00:00Z,",  # repeats line 2
            "a-8,feedback_positive,203,,,great QBR,2026-02-05T09:00:00Z,",  # good
        ],
    )
    report = ingest_rows(factory, read_rows(path), T0)

    assert (report.read, report.new, len(report.rejected)) == (8, 2, 6)
    kinds = ", ".join(kind.value for kind in SignalKind)
    number = "a number with at most 2 decimals and 12 digits before the point"
    assert report.errors == [
        "line 3, field 'value': nps needs a whole number from 0 to 10",
        f"line 4, field 'kind': is not one of {kinds}",
        "line 5, field 'person_email': is not an email address",
        "line 6, field 'external_id': is required: text of up to 200 characters, unique per signal",
        "line 6, field 'occurred_at': has no timezone (add Z or +00:00)",
        f"line 7, field 'value': is not {number}",
        "line 8, field 'external_id': repeats line 2 (each signal needs its own id)",
    ]
    assert "ana.lopez" not in "".join(report.errors)  # personal data is not echoed
    assert [row[0] for row in stored(factory)] == ["a-1", "a-8"]


def test_a_known_id_with_different_facts_is_a_conflict_and_the_stored_row_is_kept(
    factory, tmp_path
):
    ingest_rows(factory, read_rows(write_jsonl(tmp_path / "a.jsonl", GOOD)), T0)
    changed = [GOOD[1], dict(GOOD[0], value="3"), dict(GOOD[2], value="1", text="late")]
    report = ingest_rows(factory, read_rows(write_jsonl(tmp_path / "b.jsonl", changed)), T0)

    assert (report.read, report.new, report.unchanged, len(report.conflicting)) == (3, 0, 1, 2)
    assert report.errors == [
        "line 2, field 'value': its external_id is already stored with a different value; "
        "kept the stored signal",
        "line 3: its external_id is already stored with a different value, text; "
        "kept the stored signal",
    ]
    assert next(r for r in stored(factory) if r[0] == "nps-1")[4] == 10


def test_unreadable_lines_are_reported_not_fatal(factory, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps(GOOD[0])
        + "\n"
        + "{not json\n"
        + "\n"
        + "[1, 2]\n"
        + json.dumps(dict(GOOD[1], colour="red"))
        + "\n"
        + json.dumps(dict(GOOD[2], value=[1], text={"a": 1}))
        + "\n",
        encoding="utf-8",
    )
    report = ingest_rows(factory, read_rows(path), T0)
    assert (report.read, report.new, len(report.rejected)) == (5, 1, 4)
    assert report.errors == [
        "line 2: is not valid JSON (Expecting property name enclosed in double quotes, column 2)",
        "line 4: is not a JSON object ({...} with the signal's fields)",
        "line 5, field 'colour': unknown column (the columns are external_id, kind, "
        "account_crm_id, person_email, value, text, occurred_at, source)",
        "line 6, field 'value': must be text or a number, not a list",
        "line 6, field 'text': must be text or a number, not an object",
    ]


def test_signals_link_to_accounts_and_people_once_known(factory, tmp_path):
    from db.engine import transaction
    from db.models import Account, Person
    from db.repositories.signals import link_waiting

    ingest_rows(factory, read_rows(write_jsonl(tmp_path / "s.jsonl", GOOD)), T0)
    with transaction(factory) as session:
        account = Account(crm_id="101", name="Client")
        session.add(account)
        session.flush()
        session.add(Person(account_id=account.id, email="ana@client.example"))
        session.flush()
        assert link_waiting(session) == 2
        assert link_waiting(session) == 0  # nothing left to gain
    with factory() as session:
        linked = {
            s.external_id: (s.account_id is not None, s.person_id is not None)
            for s in session.scalars(select(Signal))
        }
    assert linked == {"nps-1": (True, True), "roi-1": (True, False), "ren-1": (False, False)}


# --- hostile files (cases found by fuzzing every input path) -------------------------------

HEADER = "external_id,kind,account_crm_id,person_email,value,text,occurred_at,source"


def good_line(i: int) -> str:
    return f"s-{i},feedback_positive,acc-{i % 7},,,fine,2026-02-01T09:00:00Z,"


def test_a_non_utf8_byte_deep_in_a_file_names_its_line_and_every_other_row_is_stored(
    factory, tmp_path
):
    lines = [json.dumps(dict(GOOD[1], external_id=f"r-{i}")).encode() for i in range(2000)]
    lines[1500] = lines[1500].replace(b"cut close", b"caf\xe9 close")  # Latin-1, line 1501
    path = tmp_path / "signals.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = ingest_rows(factory, read_rows(path), T0)

    assert (report.read, report.new, len(report.rejected)) == (2000, 1999, 1)
    assert report.errors == [
        "line 1501, field 'text': is not valid UTF-8 text (save the file as UTF-8)"
    ]


def test_csv_lines_count_the_header_blank_lines_and_quoted_line_breaks(factory, tmp_path):
    path = tmp_path / "signals.csv"
    path.write_bytes(
        (
            HEADER
            + "\n\n"
            + 'q-1,roi_milestone,9,,,"two\nlines",2026-02-01,\n'
            + "q-2,nps,9,,,,2026-02-01,\n"
        )
        .replace("\n", "\r\n")
        .encode("utf-8-sig")
    )
    report = ingest_rows(factory, read_rows(path), T0)
    assert report.errors == [
        "line 5, field 'value': is required for nps: a whole number from 0 to 10"
    ]
    assert stored(factory)[0][5] == "two\r\nlines"


def test_a_csv_field_over_the_csv_limit_rejects_its_line_only(factory, tmp_path):
    huge = "x" * 200_000
    path = write_csv(
        tmp_path / "signals.csv",
        HEADER,
        [good_line(1), f"s-2,roi_milestone,1,,,{huge},2026-02-01,", good_line(3)],
    )
    longer = write_csv(
        tmp_path / "long.csv", HEADER, [f"s-4,roi_milestone,1,,,{'y' * 5001},2026-02-01,"]
    )

    report = ingest_rows(factory, read_rows(path), T0)
    long_report = ingest_rows(factory, read_rows(longer), T0)

    assert (report.read, report.new) == (3, 2)
    assert report.errors == ["line 3: a field is longer than 131072 characters"]
    assert long_report.errors == ["line 2, field 'text': is longer than 5000 characters"]


def test_nul_control_characters_and_broken_unicode_are_named_by_field(factory, tmp_path):
    rows = [
        dict(GOOD[1], external_id="c-1", text="nul\x00inside"),
        dict(GOOD[1], external_id="c-2\nsplit"),
        dict(GOOD[1], external_id="c-3", account_crm_id="\ud800"),
        dict(GOOD[1], external_id="c-4", text="tabs\tand\nnewlines are fine in text"),
    ]
    path = tmp_path / "signals.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    report = ingest_rows(factory, read_rows(path), T0)

    assert report.errors == [
        "line 1, field 'text': contains a NUL character",
        "line 2, field 'external_id': contains a control character (a line break, tab, ...)",
        "line 3, field 'account_crm_id': is not valid UTF-8 text (save the file as UTF-8)",
    ]
    assert [row[0] for row in stored(factory)] == ["c-4"]


def test_extreme_dates_and_numbers_are_named_not_fatal(factory, tmp_path):
    outside = "is outside the supported range (1900-01-01 to 2199-12-31)"
    number = "is not a number with at most 2 decimals and 12 digits before the point"
    path = tmp_path / "signals.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(
                    dict(GOOD[1], external_id="d-1", occurred_at="0001-01-01T00:00:00+01:00")
                ),
                json.dumps(
                    dict(GOOD[1], external_id="d-2", occurred_at="9999-12-31T23:59:59-05:00")
                ),
                json.dumps(dict(GOOD[2], external_id="d-3", value="1e999999")),
                json.dumps(dict(GOOD[2], external_id="d-4", value="sNaN")),
                '{"external_id": "d-5", "value": ' + "9" * 5000 + "}",
                '{"external_id": "d-6", "value": 1e400}',
                "[" * 100_000,
                json.dumps(dict(GOOD[2], external_id="d-8", value=999999999999.99)),
            ]
        ),
        encoding="utf-8",
    )
    report = ingest_rows(factory, read_rows(path), T0)

    assert report.errors[:5] == [
        f"line 1, field 'occurred_at': {outside}",
        f"line 2, field 'occurred_at': {outside}",
        f"line 3, field 'value': {number}",
        f"line 4, field 'value': {number}",
        "line 5: is not valid JSON (a number has too many digits)",
    ]
    assert f"line 6, field 'value': {number}" in report.errors
    assert "line 7: is not valid JSON (nested too deeply)" in report.errors
    assert (report.read, report.new, len(report.rejected)) == (8, 1, 7)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "signals.csv",
            "\ufeffexternal_id,kind".encode("utf-16"),
            "is UTF-16 text; save it as UTF-8",
        ),
        (
            "signals.csv",
            b"external_id,kind,kind\ns-1,nps,csat\n",
            "line 1: the header repeats 'kind'",
        ),
        ("signals.txt", b"", "unsupported file type '.txt' (use .csv or .jsonl)"),
    ],
)
def test_a_file_that_cannot_be_read_at_all_stores_nothing(
    factory, tmp_path, name, content, message
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SignalFileError) as raised:
        ingest_rows(factory, read_rows(path), T0)
    assert str(raised.value) == message
    assert stored(factory) == []


def test_a_directory_or_a_missing_file_is_a_file_error(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(SignalFileError, match="is a directory"):
        list(read_rows(tmp_path / "folder.csv"))
    with pytest.raises(SignalFileError, match="no such file"):
        list(read_rows(tmp_path / "missing.jsonl"))


# --- the database refusing rows that passed validation ------------------------------------


def refuse(monkeypatch, external_id: str, **broken) -> None:
    """Let one row through validation with values the database will refuse."""
    real = ingest_signals.parse_signal_row

    def parse(raw, source):
        row, problems = real(raw, source)
        if row is not None and row.external_id == external_id:
            row = dataclasses.replace(row, **broken)
        return row, problems

    monkeypatch.setattr(ingest_signals, "parse_signal_row", parse)


def test_a_chunk_the_database_refuses_is_stored_row_by_row(factory, tmp_path, monkeypatch):
    refuse(monkeypatch, "s-3", account_crm_id=None)
    path = write_csv(tmp_path / "signals.csv", HEADER, [good_line(i) for i in range(1, 6)])

    report = ingest_rows(factory, read_rows(path), T0)

    assert (report.read, report.new, len(report.rejected)) == (5, 4, 1)
    (error,) = report.errors
    assert re.fullmatch(
        r"line 4, field 'account_crm_id': the database refused this row \(\w+\)", error
    ), error
    assert [row[0] for row in stored(factory)] == ["s-1", "s-2", "s-4", "s-5"]


@pytest.mark.postgres_only
@pytest.mark.skipif(not is_postgres(), reason="SQLite stores NUL characters")
def test_a_nul_the_database_refuses_is_named_without_the_row_values(
    factory, tmp_path, monkeypatch, capsys
):
    refuse(monkeypatch, "s-2", text="secret ana@client.example \x00")
    path = write_csv(tmp_path / "signals.csv", HEADER, [good_line(i) for i in range(1, 4)])

    report = ingest_rows(factory, read_rows(path), T0)

    assert report.errors == ["line 3: the database refused this row (DataError)"]
    assert report.new == 2
    captured = capsys.readouterr()
    assert "ana@client.example" not in captured.out + captured.err


def test_detect_moments_links_waiting_signals_once_the_sync_has_their_account_and_person(
    factory, tmp_path
):
    """Ingest links what is known at once; the sync never writes to signals; the next
    detect-moments links a signal whose company or contact came later, in one pass (one for
    an account that never comes waits; a person who comes later is linked on their own)."""
    from datetime import timedelta

    from domain.program import load_preset
    from integrations.sandbox.crm import SandboxCrm
    from tasks.detect_moments import detect_moments
    from tasks.sync_crm import sync_crm
    from tests.integrations.crm_backends import SandboxBackend

    program = load_preset("saas")
    crm = SandboxBackend(factory)
    early = crm.add_company(T0, "Early", "early.example")
    crm.add_contact(T0, "eve@early.example", early)
    sync_crm(factory, SandboxCrm(factory), program)
    rows = [
        {"external_id": "e-1", "kind": "nps", "account_crm_id": early, "value": 9,
         "person_email": "eve@early.example", "occurred_at": "2026-02-01"},
        {"external_id": "p-1", "kind": "nps", "account_crm_id": early, "value": 9,
         "person_email": "pia@early.example", "occurred_at": "2026-02-01"},
        {"external_id": "l-1", "kind": "nps", "account_crm_id": "late", "value": 9,
         "person_email": "lee@late.example", "occurred_at": "2026-02-01"},
        {"external_id": "n-1", "kind": "nps", "account_crm_id": "never", "value": 9,
         "person_email": "nobody@never.example", "occurred_at": "2026-02-01"},
    ]  # fmt: skip
    ingest_rows(factory, read_rows(write_jsonl(tmp_path / "s.jsonl", rows)), T0)

    def links() -> dict[str, tuple[bool, bool]]:
        with factory() as session:
            return {
                s.external_id: (s.account_id is not None, s.person_id is not None)
                for s in session.scalars(select(Signal))
            }

    at_ingest = {"e-1": (True, True), "p-1": (True, False), "l-1": (False, False)}
    assert links() == at_ingest | {"n-1": (False, False)}
    later = T0 + timedelta(hours=1)
    with factory.begin() as session:  # the CRM learns of the late company under its own id
        from db.models import SandboxCompany

        session.add(
            SandboxCompany(id="late", name="Late", domain="late.example", lifecycle="customer",
                           properties={}, created_at=later, updated_at=later)
        )  # fmt: skip
    crm.add_contact(later, "lee@late.example", "late")
    crm.add_contact(later, "pia@early.example", early)
    sync_crm(factory, SandboxCrm(factory), program)
    assert links() == at_ingest | {"n-1": (False, False)}  # the sync left signals alone

    report = detect_moments(factory, program, later)
    assert report.signals_linked == 2
    assert links() == {"e-1": (True, True), "p-1": (True, True), "l-1": (True, True),
                       "n-1": (False, False)}  # fmt: skip
    assert detect_moments(factory, program, later).signals_linked == 0


@pytest.mark.skipif(not is_postgres(), reason="PostgreSQL's planner statistics")
def test_a_big_file_refreshes_the_planners_statistics(factory, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_signals, "ANALYZE_FROM", 3)
    counted = text("SELECT reltuples FROM pg_class WHERE relname = 'signals'")
    with factory() as session:
        before = session.execute(counted).scalar()

    report = ingest_rows(factory, read_rows(write_jsonl(tmp_path / "s.jsonl", GOOD)), T0)

    with factory() as session:
        after = session.execute(counted).scalar()
    assert report.new == 3 and before != 3 and after == 3  # what ANALYZE writes, at once
