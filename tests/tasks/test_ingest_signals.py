"""Signal ingest: good rows stored, bad rows named by row and field, re-import is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from db.models import Signal
from tasks.ingest_signals import ingest_rows, read_rows
from tests.conftest import T0

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


def test_bad_rows_are_named_by_row_and_field_and_good_rows_still_import(factory, tmp_path):
    path = write_csv(
        tmp_path / "signals.csv",
        "external_id,kind,account_crm_id,person_email,value,text,occurred_at,source",
        [
            "a-1,nps,201,ok@client.example,9,,2026-02-01T09:00:00Z,",  # good
            "a-2,nps,201,,11,,2026-02-01T09:00:00Z,",  # NPS out of range
            "a-3,party,201,,,,2026-02-01T09:00:00Z,",  # unknown kind
            "a-4,csat,201,not-an-email,4,,2026-02-01,",  # bad email
            ",renewal_signed,202,,,,2026-02-01T09:00:00,",  # no id, naive time
            "a-6,upsell_signed,202,,12.345,,2026-02-04T09:00:00Z,crm",  # 3 decimals
            "a-1,nps,201,ok@client.example,9,,2026-02-01T09:00:00Z,",  # repeats row 1
            "a-8,feedback_positive,203,,,great QBR,2026-02-05T09:00:00Z,",  # good
        ],
    )
    report = ingest_rows(factory, read_rows(path), T0)

    assert report.new == 2
    assert report.rejected == [
        "row 2 (line 3), field 'value': nps must be a whole number from 0 to 10",
        "row 3 (line 4), field 'kind': 'party' is not one of "
        + ", ".join(
            [
                "nps",
                "csat",
                "onboarding_completed",
                "roi_milestone",
                "renewal_signed",
                "upsell_signed",
                "feedback_positive",
                "feedback_negative",
                "escalation_opened",
                "escalation_closed",
                "churn_risk_flagged",
                "churn_risk_cleared",
            ]
        ),
        "row 4 (line 5), field 'person_email': 'not-an-email' is not an email address",
        "row 5 (line 6), field 'external_id': is required",
        "row 5 (line 6), field 'occurred_at': '2026-02-01T09:00:00' has no timezone "
        "(add Z or +00:00)",
        "row 6 (line 7), field 'value': '12.345' needs at most 2 decimals and 12 digits "
        "before the point",
        "row 7 (line 8), field 'external_id': 'a-1' repeats an earlier row",
    ]
    assert [row[0] for row in stored(factory)] == ["a-1", "a-8"]


def test_a_known_id_with_different_facts_is_a_conflict_and_the_stored_row_is_kept(
    factory, tmp_path
):
    ingest_rows(factory, read_rows(write_jsonl(tmp_path / "a.jsonl", GOOD)), T0)
    changed = [dict(GOOD[0], value="3")]
    report = ingest_rows(factory, read_rows(write_jsonl(tmp_path / "b.jsonl", changed)), T0)

    assert report.new == 0 and report.unchanged == 0
    assert report.conflicting == [
        "signal 'nps-1': already stored with different facts; kept the stored one"
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
        + "\n",
        encoding="utf-8",
    )
    report = ingest_rows(factory, read_rows(path), T0)
    assert report.new == 1
    assert report.rejected == [
        "row 2 (line 2): not valid JSON (Expecting property name enclosed in double quotes)",
        "row 3 (line 4): is not a JSON object",
        "row 4 (line 5), field 'colour': unknown column",
    ]


def test_signals_link_to_accounts_and_people_once_known(factory, tmp_path):
    from db.engine import transaction
    from db.models import Account, Person
    from db.repositories.signals import link_to_accounts_and_people

    ingest_rows(factory, read_rows(write_jsonl(tmp_path / "s.jsonl", GOOD)), T0)
    with transaction(factory) as session:
        account = Account(crm_id="101", name="Client")
        session.add(account)
        session.flush()
        session.add(Person(account_id=account.id, email="ana@client.example"))
        session.flush()
        assert link_to_accounts_and_people(session) == 2
    with factory() as session:
        linked = {
            s.external_id: (s.account_id is not None, s.person_id is not None)
            for s in session.scalars(select(Signal))
        }
    assert linked == {"nps-1": (True, True), "roi-1": (True, False), "ren-1": (False, False)}
