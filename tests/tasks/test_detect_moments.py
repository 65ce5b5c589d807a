"""detect-moments on the database: moments only where a trigger fires and no guard applies,
asks with their reasons and words, caps, and nothing new on a rerun."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from db.models import Ask, AuditEntry, Moment, ReferralLink, Signal
from db.repositories import moments as repo
from domain.moments import guard_reasons, trigger_of
from domain.program import load_preset
from domain.signals import SignalKind as K
from domain.statuses import MomentStatus
from tasks.detect_moments import detect_moments
from tests.scenario import World

PROGRAM = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)  # Monday


def count_rows(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_promoter_gets_one_ask_with_why_words_and_a_personal_link(factory):
    w = World(factory)
    csm = w.csm()
    account = w.account(csm)
    cfo = w.person(account, linkedin_followers=5000)
    w.person(account, title="Analyst", seniority="individual")
    w.signal(account, K.NPS, NOW - timedelta(days=1), 10, cfo, "Close is so much faster")

    report = detect_moments(factory, PROGRAM, NOW)

    assert (report.moments_detected, report.asks_created) == (1, 1)
    with factory() as session:
        ask = session.scalars(select(Ask)).one()
        link = session.get(ReferralLink, ask.referral_link_id)
    assert ask.champion_id == cfo and ask.csm_id == csm
    assert ask.score_parts["moment"] == "nps" and "high NPS" in ask.score_parts["why_now"]
    assert {"satisfaction", "seniority", "network", "history", "health"} <= set(ask.score_parts)
    assert "Close is so much faster" in ask.script and link.code in ask.script
    assert ask.draft_subject == "Quick intro?" and ask.week_key == "2026-W10"


def test_rerunning_creates_nothing_new(factory):
    w = World(factory)
    account = w.account(w.csm())
    w.person(account)
    w.signal(account, K.RENEWAL_SIGNED, NOW - timedelta(days=2))
    detect_moments(factory, PROGRAM, NOW)
    again = detect_moments(factory, PROGRAM, NOW + timedelta(hours=1))
    assert (again.signals_checked, again.moments_detected, again.asks_created) == (0, 0, 0)
    assert count_rows(factory, Ask) == 1


def test_guards_suppress_and_record_their_reasons(factory):
    w = World(factory)
    csm = w.csm()
    escalated = w.account(csm, escalation_open=True)
    detractor = w.account(csm)
    w.person(escalated)
    w.person(detractor)
    w.signal(escalated, K.NPS, NOW - timedelta(days=1), 10)
    w.signal(detractor, K.NPS, NOW - timedelta(days=20), 2)
    w.signal(detractor, K.ROI_MILESTONE, NOW - timedelta(days=1), text="saved 10 hours a week")

    report = detect_moments(factory, PROGRAM, NOW)

    assert report.asks_created == 0
    assert report.suppressed == {"open_escalation": 1, "recent_detractor": 1}
    with factory() as session:
        audits = session.scalars(select(AuditEntry)).all()
    assert sorted(a.details["reasons"][0] for a in audits) == [
        "open_escalation",
        "recent_detractor",
    ]


def test_opted_out_people_are_never_asked_and_a_moment_without_champion_is_kept(factory):
    w = World(factory)
    account = w.account(w.csm())
    w.person(account, opted_out=True)
    w.signal(account, K.ONBOARDING_COMPLETED, NOW - timedelta(days=1))
    report = detect_moments(factory, PROGRAM, NOW)
    assert report.asks_created == 0 and report.suppressed == {"no_champion": 1}
    with factory() as session:
        moment = session.scalars(select(Moment)).one()
    assert (moment.status, moment.suppressed_reason) == (MomentStatus.SUPPRESSED, "no_champion")


def test_one_moment_per_account_trigger_and_window_and_one_ask_per_account(factory):
    w = World(factory)
    account = w.account(w.csm())
    w.person(account)
    w.person(account, title="VP Sales", seniority="vp")
    w.signal(account, K.NPS, NOW - timedelta(days=3), 9)
    w.signal(account, K.NPS, NOW - timedelta(days=2), 10)  # same window
    w.signal(account, K.UPSELL_SIGNED, NOW - timedelta(days=1))  # another trigger
    report = detect_moments(factory, PROGRAM, NOW)
    assert (report.moments_detected, report.duplicate_in_window) == (2, 1)
    assert report.asks_created == 1 and report.suppressed == {"account_cooldown": 1}


def test_the_weekly_cap_defers_overflow_to_next_week_without_dropping_it(factory):
    w = World(factory)
    csm = w.csm()
    for i in range(PROGRAM.asks.per_csm_per_week + 2):
        account = w.account(csm, health=50 + i)
        w.person(account)
        w.signal(account, K.ROI_MILESTONE, NOW - timedelta(hours=5), text=f"result {i}")
    report = detect_moments(factory, PROGRAM, NOW)
    with factory() as session:
        weeks = Counter(session.scalars(select(Ask.week_key)))
    assert report.asks_created == PROGRAM.asks.per_csm_per_week + 2
    assert weeks == {"2026-W10": PROGRAM.asks.per_csm_per_week, "2026-W11": 2}


def test_batches_take_every_signal_once_also_when_many_share_a_time(factory, monkeypatch):
    """Each batch starts after the last one (time, then id): signals at the very same time
    across a batch boundary are all checked, none twice; those that fire no trigger are
    checked in the database between the batches."""
    import tasks.detect_moments as detect

    monkeypatch.setattr(detect, "BATCH", 3)
    w = World(factory)
    csm = w.csm()
    same_time = NOW - timedelta(days=3)
    firing = (K.ROI_MILESTONE, K.FEEDBACK_POSITIVE, K.ONBOARDING_COMPLETED)
    for _ in range(4):
        account = w.account(csm)
        w.person(account)
        for kind in (*firing, K.ESCALATION_CLOSED):
            w.signal(account, kind, same_time)
    w.signal(account, K.RENEWAL_SIGNED, same_time - timedelta(days=1))

    report = detect_moments(factory, PROGRAM, NOW)

    assert (report.signals_checked, report.not_a_moment) == (17, 4)
    assert report.moments_detected + report.duplicate_in_window == 13
    with factory() as session:
        unchecked = session.scalar(
            select(func.count()).select_from(Signal).where(Signal.moment_checked_at.is_(None))
        )
    assert unchecked == 0


def test_the_database_picks_exactly_the_signals_the_rules_call_moments(factory):
    """``fires`` (SQL) must agree with ``trigger_of`` (the pure rule) for every kind, value
    and trigger setting, or signals would be checked without being looked at."""
    w = World(factory)
    account = w.account(w.csm())
    for kind in K:
        for value in (None, 0, 1, 3, 5, 6, 8, 9, 10):
            w.signal(account, kind, NOW - timedelta(days=1), value)
    variants = [
        PROGRAM.triggers,
        PROGRAM.triggers.model_copy(
            update={
                "nps": PROGRAM.triggers.nps.model_copy(update={"min_score": 6}),
                "csat": PROGRAM.triggers.csat.model_copy(update={"enabled": False}),
                "first_roi": PROGRAM.triggers.first_roi.model_copy(update={"enabled": False}),
            }
        ),
    ]
    with factory() as session:
        rows = session.execute(select(*repo.SIGNAL_COLUMNS)).all()
        for triggers in variants:
            by_sql = set(session.scalars(select(Signal.id).where(repo.fires(triggers))))
            quiet = set(session.scalars(select(Signal.id).where(~repo.fires(triggers))))
            by_rule = {r.id for r in rows if trigger_of(repo.fact(r), triggers)}
            assert by_sql == by_rule
            assert quiet == {r.id for r in rows} - by_rule  # a NULL score included
            assert 0 < len(by_rule) < len(rows)


def test_a_signal_read_as_a_row_is_the_same_fact_as_read_as_an_object(factory):
    """The batch and the guards' history read plain rows by position (no ORM loading): each
    field must land where the rules look for it, text and person included."""
    w = World(factory)
    account = w.account(w.csm())
    person = w.person(account)
    nps = w.signal(account, K.NPS, NOW - timedelta(days=2), 4, person, "slow support")
    w.signal(account, K.ESCALATION_OPENED, NOW - timedelta(days=1))
    with factory() as session:
        row = (
            session.connection().execute(select(*repo.SIGNAL_COLUMNS).where(Signal.id == nps)).one()
        )
        stored = session.get(Signal, nps)
        assert repo.fact(row) == repo.fact(stored)
        assert repo.fact(row)[1:] == (
            K.NPS,
            stored.occurred_at,
            stored.value,
            "slow support",
            person,
        )
        history = repo.account_states(session, [account])[account].history
        objects = session.scalars(select(Signal).where(Signal.account_id == account)).all()
        assert [(f.id, f.kind, f.occurred_at, f.value) for f in history] == [
            (s.id, s.kind, s.occurred_at, s.value) for s in sorted(objects, key=lambda s: s.id)
        ]


def test_signals_in_the_future_wait_for_their_day(factory):
    w = World(factory)
    account = w.account(w.csm())
    w.person(account)
    w.signal(account, K.RENEWAL_SIGNED, NOW + timedelta(days=3))
    assert detect_moments(factory, PROGRAM, NOW).signals_checked == 0
    assert detect_moments(factory, PROGRAM, NOW + timedelta(days=4)).asks_created == 1


def test_on_a_generated_book_asks_exist_only_where_a_moment_qualifies_and_no_guard_applies(
    factory, tmp_path
):
    from domain.moments import AccountState  # noqa: F401
    from integrations.sandbox.crm import SandboxCrm
    from simulation.book import generate_book
    from simulation.signals_file import write_signals
    from tasks.ingest_signals import ingest_rows, read_rows
    from tasks.sync_crm import sync_crm
    from tests.factories import book_in_sandbox

    book = generate_book(seed=5, accounts=60, days=60)
    book_in_sandbox(factory, book, tmp_path)
    sync_crm(factory, SandboxCrm(factory), PROGRAM)
    write_signals(book.signals, tmp_path / "s.jsonl")
    ingest_rows(factory, read_rows(tmp_path / "s.jsonl"), NOW)
    now = datetime.combine(book.start, datetime.min.time(), UTC)
    total = 0
    for day in range(0, 60, 3):
        total += detect_moments(factory, PROGRAM, now + timedelta(days=day)).asks_created
        rerun = detect_moments(factory, PROGRAM, now + timedelta(days=day))
        assert (rerun.moments_detected, rerun.asks_created) == (0, 0)
    assert total > 5

    from db.repositories.moments import account_states, fact

    with factory() as session:
        asks = session.execute(
            select(Ask, Moment, Signal)
            .join(Moment, Moment.id == Ask.moment_id)
            .join(Signal, Signal.id == Moment.signal_id)
        ).all()
        states = account_states(session, [a.account_id for a, _, _ in asks])
    for ask, moment, signal in asks:
        assert trigger_of(fact(signal), PROGRAM.triggers) == moment.trigger
        state = states[ask.account_id]
        history_before = tuple(f for f in state.history if f.occurred_at <= signal.occurred_at)
        no_asks = type(state)(
            state.account_id, state.segment, state.owner_team, False, False, history_before, None
        )
        assert (
            guard_reasons(fact(signal), no_asks, PROGRAM.guards, PROGRAM.triggers, ask.created_for)
            == []
        )


def test_a_moment_that_waited_a_whole_window_for_capacity_is_dropped(factory):
    w = World(factory)
    csm = w.csm()
    cap = PROGRAM.asks.per_csm_per_week
    weeks = 12  # the scheduling horizon
    for i in range(cap * weeks + 1):
        account = w.account(csm)
        w.person(account)
        w.signal(account, K.ROI_MILESTONE, NOW - timedelta(hours=1), text=f"result {i}")
    first = detect_moments(factory, PROGRAM, NOW)
    assert (first.asks_created, first.waiting_for_capacity) == (cap * weeks, 1)
    later = detect_moments(
        factory, PROGRAM, NOW + timedelta(days=PROGRAM.triggers.moment_window_days + 1)
    )
    assert later.suppressed == {"waited_too_long": 1}


def test_two_runs_at_once_create_each_moment_and_ask_once(committed_factory):
    import threading

    w = World(committed_factory)
    csm = w.csm()
    for i in range(40):
        account = w.account(csm)
        w.person(account)
        w.signal(account, K.FEEDBACK_POSITIVE, NOW - timedelta(minutes=i + 1))
    reports, errors = [], []

    def run() -> None:
        try:
            reports.append(detect_moments(committed_factory, PROGRAM, NOW))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sum(r.moments_detected for r in reports) == 40
    with committed_factory() as session:
        assert session.scalar(select(func.count()).select_from(Ask)) == 40
        assert session.scalar(select(func.count(func.distinct(Ask.moment_id)))) == 40


def test_moments_on_accounts_without_an_owner_who_asks_wait_then_go_when_one_is_given(
    factory, monkeypatch
):
    import tasks.detect_moments as detect
    from domain.statuses import TeamRole
    from tasks.team import set_role

    monkeypatch.setattr(detect, "BATCH", 2)  # more waiting moments than a batch holds
    w = World(factory)
    roleless = w.csm(role=None)
    waiting = []
    for i in range(3):
        account = w.account(roleless)
        w.person(account)
        w.signal(account, K.NPS, NOW - timedelta(hours=i + 1), 10)
        waiting.append(account)
    asked = w.account(w.csm())
    w.person(asked)
    w.signal(asked, K.NPS, NOW - timedelta(hours=5), 10)

    first = detect.detect_moments(factory, PROGRAM, NOW)

    assert (first.moments_detected, first.asks_created, first.waiting_for_owner) == (4, 1, 3)
    with factory() as session:
        member = session.get(__import__("db.models").models.TeamMember, roleless)
        email = member.email
    set_role(factory, email, TeamRole.CSM)
    second = detect.detect_moments(factory, PROGRAM, NOW + timedelta(hours=1))
    assert (second.asks_created, second.waiting_for_owner) == (2, 0)  # a batch holds 2
    with factory() as session:
        asked_accounts = set(session.scalars(select(Ask.account_id)))
    assert asked in asked_accounts and len(asked_accounts & set(waiting)) == 2


def test_a_moment_still_waiting_for_an_owner_after_its_window_is_dropped(factory):
    w = World(factory)
    account = w.account(w.csm(role=None))
    w.person(account)
    w.signal(account, K.NPS, NOW - timedelta(hours=1), 10)
    detect_moments(factory, PROGRAM, NOW)

    later = detect_moments(factory, PROGRAM, NOW + timedelta(days=31))

    assert later.suppressed["waited_too_long"] == 1 and later.waiting_for_owner == 0
    with factory() as session:
        moment = session.scalars(select(Moment)).one()
    assert (moment.status, moment.suppressed_reason) == (
        MomentStatus.SUPPRESSED,
        "waited_too_long",
    )


def test_signals_older_than_the_window_are_suppressed_as_stale_in_one_pass(factory):
    """Each kind that fires, too old: checked, one audit row naming its trigger and the
    reason stale alone (no guard is asked; here an open escalation would also apply); a
    quiet old signal gets none; a fresh one the same run is still a moment; a rerun adds
    nothing."""
    w = World(factory)
    account = w.account(w.csm(), escalation_open=True)
    other = w.account(w.csm(), name="Beta")
    w.person(other)
    old = NOW - timedelta(days=PROGRAM.triggers.moment_window_days, seconds=1)
    values = {K.NPS: 10, K.CSAT: 5}
    fired = {
        w.signal(account, kind, old, values.get(kind)): trigger
        for kind, trigger in [
            (K.NPS, "nps"),
            (K.CSAT, "csat"),
            (K.ONBOARDING_COMPLETED, "onboarding_completed"),
            (K.ROI_MILESTONE, "first_roi"),
            (K.RENEWAL_SIGNED, "renewal_signed"),
            (K.UPSELL_SIGNED, "upsell_signed"),
            (K.FEEDBACK_POSITIVE, "positive_feedback"),
        ]
    }
    w.signal(account, K.NPS, old, 3)  # quiet: a detractor fires nothing
    w.signal(account, K.ESCALATION_OPENED, old)
    on_the_edge = w.signal(other, K.RENEWAL_SIGNED, NOW - timedelta(days=30))

    report = detect_moments(factory, PROGRAM, NOW)

    assert report.suppressed["stale_signal"] == len(fired)
    assert report.signals_checked == len(fired) + 3 and report.moments_detected == 1
    with factory() as session:
        audits = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "moment_suppressed")
        ).all()
        unchecked = session.scalar(select(func.count()).where(Signal.moment_checked_at.is_(None)))
        moment = session.scalars(select(Moment)).one()
    assert {int(a.entity_id): a.details for a in audits} == {
        signal: {"trigger": trigger, "reasons": ["stale_signal"]}
        for signal, trigger in fired.items()
    }
    assert {(a.actor, a.entity_type, a.occurred_at) for a in audits} == {
        ("detect-moments", "signal", NOW)
    }
    assert unchecked == 0 and moment.signal_id == on_the_edge
    again = detect_moments(factory, PROGRAM, NOW + timedelta(hours=1))
    assert (again.signals_checked, sum(again.suppressed.values())) == (0, 0)
    assert count_rows(factory, AuditEntry) == len(audits)  # the rerun audited nothing again
