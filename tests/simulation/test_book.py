"""The synthetic book must be reproducible and plausible, or the demo and tests built on it lie."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.signals import SCORED_KINDS, SignalKind, SignalSource
from domain.stages import (
    DEFAULT_MILESTONES,
    DEFAULT_PIPELINE_ID,
    DEFAULT_STAGE_MAP,
    ProgramStage,
)
from integrations.sandbox.portal import RENEWALS_PIPELINE_ID, SANDBOX_PIPELINES
from simulation.book import Book, SignalSpec, generate_book
from simulation.signals_file import COLUMNS, write_signals

PERSONAL = {"gmail.com", "outlook.com", "yahoo.com", "icloud.com"}
PERSON_KINDS = {SignalKind.NPS, SignalKind.CSAT, SignalKind.FEEDBACK_POSITIVE}
PERSON_KINDS |= {SignalKind.FEEDBACK_NEGATIVE}


@pytest.fixture(scope="module")
def book() -> Book:
    return generate_book()


def _period(book: Book) -> tuple[datetime, datetime]:
    start = datetime(book.start.year, book.start.month, book.start.day, tzinfo=UTC)
    return start, start + timedelta(days=book.days)


def test_same_seed_gives_equal_book(book: Book) -> None:
    assert generate_book() == book
    assert generate_book(seed=7, accounts=50) == generate_book(seed=7, accounts=50)


def test_different_seed_gives_different_book(book: Book) -> None:
    other = generate_book(seed=8)
    assert other != book
    assert {c.domain for c in other.companies} != {c.domain for c in book.companies}


def test_sizes_are_honoured() -> None:
    b = generate_book(seed=3, accounts=57, csms=5, reps=3, start=date(2026, 3, 2), days=90)
    assert (b.seed, b.start, b.days, b.end) == (3, date(2026, 3, 2), 90, date(2026, 5, 31))
    assert len(b.companies) == 57
    assert Counter(m.role for m in b.team) == {"csm": 5, "rep": 3}
    per_company = Counter(c.company_crm_id for c in b.contacts)
    assert set(per_company) == {c.crm_id for c in b.companies}
    assert all(2 <= k <= 6 for k in per_company.values())


def test_empty_and_invalid_arguments() -> None:
    empty = generate_book(accounts=0)
    assert (empty.companies, empty.contacts, empty.deals, empty.signals) == ((), (), (), ())
    for bad in ({"accounts": -1}, {"csms": 0}, {"reps": 0}, {"days": 0}):
        with pytest.raises(ValueError):
            generate_book(**bad)


def test_team_is_split_into_teams_with_unique_ids(book: Book) -> None:
    csm_teams = Counter(m.team for m in book.team if m.role == "csm")
    assert set(csm_teams) == {"team-north", "team-south", "pilot"}
    assert csm_teams["pilot"] < csm_teams["team-north"]
    assert {m.team for m in book.team if m.role == "rep"} == {"team-north", "team-south"}
    for attr in ("email", "name", "crm_owner_id"):
        assert len({getattr(m, attr) for m in book.team}) == len(book.team), attr
    assert all(m.crm_owner_id.isdigit() for m in book.team)


def test_ids_domains_and_emails_are_unique_and_normalised(book: Book) -> None:
    big = generate_book(seed=11, accounts=2000)
    for b in (book, big):
        for objects in (b.companies, b.contacts, b.deals):
            ids = [o.crm_id for o in objects]
            assert len(set(ids)) == len(ids)
            assert all(i.isdigit() and not i.startswith("0") for i in ids)
        domains = [c.domain for c in b.companies]
        assert len(set(domains)) == len(domains)
        assert len({c.name for c in b.companies}) == len(b.companies)
        for d in domains:
            assert d == d.lower().strip() and not d.startswith("www.") and "." in d
        emails = [c.email for c in b.contacts] + [m.email for m in b.team]
        assert len(set(emails)) == len(emails)
        assert all(e == e.lower() and e.isascii() and e.count("@") == 1 for e in emails)
        assert len({s.external_id for s in b.signals}) == len(b.signals)


def test_companies_mix(book: Book) -> None:
    lifecycles = Counter(c.lifecycle for c in book.companies)
    assert lifecycles == {"customer": 160, "prospect": 40}
    assert set(Counter(c.segment for c in book.companies)) == {"smb", "mid_market", "enterprise"}
    industries = {c.industry for c in book.companies}
    assert {"financial services", "insurance", "healthcare"} <= industries
    assert {"software", "logistics", "manufacturing", "retail"} <= industries
    owners = {m.crm_owner_id: m.role for m in book.team}
    start, _ = _period(book)
    for c in book.companies:
        assert 0 <= c.health_score <= 100
        assert c.created_at < start
        if c.lifecycle == "customer":
            assert owners[c.owner_crm_id] == "csm"
            assert c.renewal_date is not None and c.renewal_date >= book.start
        else:
            assert owners[c.owner_crm_id] == "rep"
            assert c.renewal_date is None and c.onboarding_completed_at is None


def test_contacts_are_realistic(book: Book) -> None:
    domains = {c.crm_id: c.domain for c in book.companies}
    on_domain = [c for c in book.contacts if c.email.endswith("@" + domains[c.company_crm_id])]
    personal = [c for c in book.contacts if c.email.split("@")[1] in PERSONAL]
    assert len(on_domain) + len(personal) == len(book.contacts)
    assert 0 < len(personal) < len(book.contacts) * 0.1
    assert 0 < sum(c.opted_out for c in book.contacts) < len(book.contacts) * 0.1
    assert any(c.linkedin_followers >= 10_000 for c in book.contacts)
    assert any(c.speaks_at_events for c in book.contacts)
    titles = Counter(c.title for c in book.contacts)
    assert {"CEO", "CFO", "Analyst"} <= set(titles)
    assert any(t.startswith("VP ") for t in titles) and any(t.startswith("Head of") for t in titles)
    by_company: dict[str, list[str]] = {}
    for c in book.contacts:
        by_company.setdefault(c.company_crm_id, []).append(c.title)
    assert all(len(set(ts)) == len(ts) for ts in by_company.values())


def test_deals_use_the_portals_pipelines_and_valid_stages(book: Book) -> None:
    companies = {c.crm_id for c in book.companies}
    channels = Counter(d.source_channel for d in book.deals)
    assert {"inbound", "outbound", "partner", "event", "client_referral"} <= set(channels)
    assert channels["client_referral"] < channels["inbound"]
    start, _ = _period(book)
    pipelines = {p.id: {s.id: s for s in p.stages} for p in SANDBOX_PIPELINES}
    for d in book.deals:
        assert d.company_crm_id in companies
        stage = pipelines[d.pipeline_id][d.stage_id]
        assert d.amount > 0 and d.amount == d.amount.quantize(Decimal("0.01"))
        closed = stage.closed and d.pipeline_id == DEFAULT_PIPELINE_ID
        assert (d.closed_at is not None) == closed
        assert d.created_at <= d.stage_entered_at < start
        if d.closed_at is not None:
            assert d.created_at <= d.closed_at < start
        for name, value in d.properties:  # milestones only on won deals, after the win
            assert name in DEFAULT_MILESTONES.values() and d.stage_id == "closedwon"
            assert d.closed_at is not None and d.closed_at <= datetime.fromisoformat(value) < start
    renewals = [d for d in book.deals if d.pipeline_id == RENEWALS_PIPELINE_ID]
    assert all(d.source_channel == "renewal" for d in renewals)
    stages = {DEFAULT_STAGE_MAP.get(d.stage_id) for d in book.deals}
    assert {ProgramStage.CLOSED_LOST, ProgramStage.CLOSED_WON, ProgramStage.PROPOSAL} <= stages
    seg = {c.crm_id: c.segment for c in book.companies}
    new = [d for d in book.deals if d.name.endswith(" - New business")]
    ent = [d.amount for d in new if seg[d.company_crm_id] == "enterprise"]
    smb = [d.amount for d in new if seg[d.company_crm_id] == "smb"]
    assert max(smb) < min(ent)  # new-business amounts scale with the segment


def test_signals_belong_to_their_accounts_and_are_in_range(book: Book) -> None:
    customers = {c.crm_id for c in book.companies if c.lifecycle == "customer"}
    people: dict[str, set[str]] = {}
    for c in book.contacts:
        people.setdefault(c.company_crm_id, set()).add(c.email)
    start, end = _period(book)
    for s in book.signals:
        assert s.account_crm_id in customers
        assert s.source is SignalSource.SIMULATION
        assert s.occurred_at.tzinfo is not None and s.occurred_at.utcoffset() == timedelta(0)
        assert start <= s.occurred_at < end
        if s.kind in PERSON_KINDS:
            assert s.person_email in people[s.account_crm_id]
        else:
            assert s.person_email is None
        if s.kind in SCORED_KINDS:
            low, high = SCORED_KINDS[s.kind]
            assert s.value is not None and s.value == s.value.to_integral_value()
            assert low <= s.value <= high
        elif s.value is not None:
            assert s.kind in {SignalKind.RENEWAL_SIGNED, SignalKind.UPSELL_SIGNED} and s.value > 0
    times = [s.occurred_at for s in book.signals]
    assert times == sorted(times)
    expected = [f"sim-{book.seed}-{i:06d}" for i in range(1, len(book.signals) + 1)]
    assert [s.external_id for s in book.signals] == expected


def test_all_datetimes_are_aware_utc(book: Book) -> None:
    for objects in (book.companies, book.contacts, book.deals, book.signals):
        for o in objects:
            for f in fields(o):
                v = getattr(o, f.name)
                if isinstance(v, datetime):
                    assert v.utcoffset() == timedelta(0), (o, f.name)


def test_signal_mix_is_realistic(book: Book) -> None:
    kinds = Counter(s.kind for s in book.signals)
    assert set(kinds) == set(SignalKind)
    nps = [s for s in book.signals if s.kind is SignalKind.NPS]
    promoters = {s.account_crm_id for s in nps if s.value is not None and s.value >= 9}
    detractors = {s.account_crm_id for s in nps if s.value is not None and s.value <= 6}
    assert len(promoters) >= 10 and len(detractors) >= 5
    assert len(promoters) < len(book.companies) / 2  # most accounts have no promoter score
    assert all(s.text for s in nps if s.value is not None and s.value >= 9)
    roi = [s.text or "" for s in book.signals if s.kind is SignalKind.ROI_MILESTONE]
    assert all(any(ch.isdigit() for ch in text) for text in roi)  # a concrete result


def test_lifecycle_signals_follow_company_dates(book: Book) -> None:
    companies = {c.crm_id: c for c in book.companies}
    for s in book.signals:
        c = companies[s.account_crm_id]
        if s.kind is SignalKind.ONBOARDING_COMPLETED:
            assert s.occurred_at == c.onboarding_completed_at
        if s.kind is SignalKind.RENEWAL_SIGNED:
            assert s.occurred_at.date() == c.renewal_date
    first_seen: dict[tuple[str, SignalKind], datetime] = {}
    for s in book.signals:
        first_seen.setdefault((s.account_crm_id, s.kind), s.occurred_at)
    pairs = ((SignalKind.ESCALATION_OPENED, SignalKind.ESCALATION_CLOSED),)
    pairs += ((SignalKind.CHURN_RISK_FLAGGED, SignalKind.CHURN_RISK_CLEARED),)
    for opened, closed in pairs:
        for (account, kind), at in first_seen.items():
            if kind is closed:
                assert first_seen[(account, opened)] < at


@pytest.mark.parametrize(
    ("seed", "start", "days"),
    [(1, date(2026, 1, 5), 180), (2, date(2025, 11, 1), 45), (3, date(2026, 2, 28), 7)],
)
def test_invariants_hold_for_other_seeds_and_periods(seed: int, start: date, days: int) -> None:
    """Short periods and weekend starts must not push signals or CRM dates out of bounds."""
    other = generate_book(seed=seed, accounts=80, csms=3, reps=2, start=start, days=days)
    test_signals_belong_to_their_accounts_and_are_in_range(other)
    test_all_datetimes_are_aware_utc(other)
    test_lifecycle_signals_follow_company_dates(other)
    test_deals_use_the_portals_pipelines_and_valid_stages(other)
    test_contacts_are_realistic(other)


def test_large_book_is_fast() -> None:
    t0 = time.perf_counter()
    b = generate_book(accounts=2000)
    assert time.perf_counter() - t0 < 2.0
    assert len(b.companies) == 2000


def _expected_rows(signals: tuple[SignalSpec, ...]) -> list[dict[str, str]]:
    return [
        {
            "external_id": s.external_id,
            "kind": s.kind.value,
            "account_crm_id": s.account_crm_id,
            "person_email": s.person_email or "",
            "value": "" if s.value is None else str(s.value),
            "text": s.text or "",
            "occurred_at": s.occurred_at.isoformat(),
            "source": "simulation",
        }
        for s in signals
    ]


def test_writer_round_trips_jsonl(book: Book, tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    assert write_signals(iter(book.signals), path) == len(book.signals)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(book.signals)
    assert all(tuple(r) == COLUMNS for r in rows)
    normalised = [{k: "" if v is None else v for k, v in r.items()} for r in rows]
    assert normalised == _expected_rows(book.signals)
    assert all(r["occurred_at"].endswith("+00:00") for r in rows)
    for row, signal in zip(rows, book.signals, strict=True):
        assert (row["value"] is None) == (signal.value is None)
        if signal.value is not None:
            assert Decimal(row["value"]) == signal.value


def test_writer_round_trips_csv(book: Book, tmp_path: Path) -> None:
    path = tmp_path / "signals.CSV"
    assert write_signals(book.signals, path) == len(book.signals)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        rows = list(reader)
    assert rows == _expected_rows(book.signals)


def test_writer_rejects_unknown_suffix_and_handles_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.jsonl or \.csv"):
        write_signals([], tmp_path / "signals.txt")
    assert not (tmp_path / "signals.txt").exists()
    assert write_signals([], tmp_path / "empty.csv") == 0
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8").startswith("external_id,kind")
