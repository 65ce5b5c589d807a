"""Concurrency on PostgreSQL: program days, release-rewards and Prefect workers run by
several processes at once end in the same state as one run.

Program days: two worlds from one generated book and seed (each its own database and its own
local HubSpot, SendGrid and Slack servers, the real SDKs talking to them; see
``tests/faults/world.py``). People act the same way in both; then the reference world runs
its program day once, in this process, while in the other world two or three processes
(alternating by day, started together at a barrier or staggered) run the same day. In the
end both hold the same referrals, rewards, reward ledger, asks and outbox (by stable keys and
status), and their vendors the same emails, Slack messages and CRM records: one digest per
CSM per day, nothing delivered twice, counted at the servers.

Release-rewards: a world with many rewards due (``concurrency_rewards.py``) is copied; one
run on the original, two processes at once on the copy: the same rewards, ledger and outbox.

Prefect workers (only with ``REFERRALS_WORKERS_TEST=1``, about a minute): a server, a process
work pool, two workers, several daily-cycle runs of one day at once (``concurrency_prefect.py``).

Knobs for the benchmark: ``REFERRALS_CONCURRENCY_DAYS`` (default 12),
``REFERRALS_CONCURRENCY_ACCOUNTS`` (default 40), ``REFERRALS_WORKERS_TEST=1``,
``REFERRALS_CONCURRENCY_REPORT=path.json`` (the figures of each test, merged).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from core.settings import Settings
from db.engine import engine_for, normalise_url, session_factory
from db.models import OutboxMessage
from db.repositories import moments as moments_repo
from domain.program import load_preset
from domain.signals import SignalKind
from domain.statuses import OutboxChannel
from integrations.deliverers import ChatDeliverer
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.wiring import build_adapters
from simulation.book import generate_book
from tasks.detect_moments import detect_moments
from tasks.prompt_csms import prompt_csms
from tasks.rewards.release import release_rewards
from tests.conftest import _copy_database, is_postgres
from tests.faults import concurrency_rewards as rewards_world
from tests.faults.compare import DELIVERIES, duplicates, losses, snapshot
from tests.faults.concurrency_prefect import PrefectStack
from tests.faults.concurrency_runner import Outcome, Runner, overlap
from tests.faults.driver import policy_for, program_day
from tests.faults.world import World, day_at
from tests.scenario import World as Scenario

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not is_postgres(), reason="runs at once need PostgreSQL's row locks (SQLite: one writer)"
    ),
]

SEED = 13
DAYS = int(os.environ.get("REFERRALS_CONCURRENCY_DAYS", "12"))
ACCOUNTS = int(os.environ.get("REFERRALS_CONCURRENCY_ACCOUNTS", "40"))
# Runs at once, by day in turn: started together, or staggered by random fractions of the
# day's length (one run in prompt-csms while another still detects moments).
PLAN = ((2, False), (3, False), (2, True), (3, True))


@pytest.fixture
def two_urls(postgres, template_url, tmp_path) -> Iterator[tuple[str, str]]:
    copies = [_copy_database(postgres, template_url, tmp_path) for _ in range(2)]
    yield next(copies[0]), next(copies[1])
    for copy in copies:
        next(copy, None)


def _live_day(world: World, day: datetime, run_day: Any) -> None:
    """The demo's order: the people act, the program runs its day, finance decides."""
    world.clock[0] = day + timedelta(hours=9)
    world.people_act(day)
    world.clock[0] = day + timedelta(hours=10)
    run_day(day)
    world.clock[0] = day + timedelta(hours=15)
    world.finance_decides(day + timedelta(hours=15))


def _in_process(world: World, seconds: list[float]) -> Any:
    def run(day: datetime) -> None:
        settings = world.settings()
        adapters = build_adapters(settings, world.factory)
        started = time.perf_counter()
        program_day(world.factory, world.program, settings, adapters, day, policy_for(settings, 0))
        seconds.append(time.perf_counter() - started)

    return run


def digests_per_csm_day(state: dict[str, Any]) -> Counter[tuple[str, str]]:
    """Digests by (CSM, day): from the outbox and from what Slack received."""
    counts: Counter[tuple[str, str]] = Counter()
    for part in ("outbox", "slack"):
        for key in state[part]:
            if key.startswith("slack-digest:"):
                _, member, day, _ = key.split(":", 3)
                counts[(part, member, day)] += state[part][key] if part == "slack" else 1
    return counts  # type: ignore[return-value]


def test_program_days_run_at_once_end_as_one_run(two_urls, tmp_path) -> None:
    started = time.perf_counter()
    book = generate_book(seed=SEED, accounts=ACCOUNTS, days=DAYS)
    single = World(two_urls[0], tmp_path / "single", book, SEED)
    together = World(two_urls[1], tmp_path / "together", book, SEED)
    outcomes: list[list[Outcome]] = []
    single_seconds: list[float] = []
    rng = random.Random(SEED)
    runner: Runner | None = None
    try:
        for world in (single, together):
            world.set_up()
        runner = Runner(together.env(), max(p for p, _ in PLAN))
        for offset in range(DAYS):
            day = day_at(book.start, offset)
            _live_day(single, day, _in_process(single, single_seconds))
            parties, staggered = PLAN[offset % len(PLAN)]
            delays = [0.0] + [
                rng.uniform(0, single_seconds[-1]) if staggered else 0.0 for _ in range(parties - 1)
            ]

            def at_once(day: datetime, parties: int = parties, delays=delays) -> None:
                assert runner is not None
                outcomes.append(runner.run("program-day", day, parties, delays))

            _live_day(together, day, at_once)
        expected, got = snapshot(single), snapshot(together)
    finally:
        if runner is not None:
            runner.close()
        single.close()
        together.close()
    errors = [o.error for day in outcomes for o in day if o.error]
    figures = {
        "days": DAYS,
        "accounts": ACCOUNTS,
        "runs": sum(len(day) for day in outcomes),
        "processes at once": [p for p, _ in PLAN],
        "seconds overlapping": round(sum(overlap(day) for day in outcomes), 1),
        "errors": len(errors),
        "duplicates": duplicates(got),
        "losses": losses(expected, got),
        "digests": sum(1 for k in expected["outbox"] if k.startswith("slack-digest:")),
        "rewards by status": dict(Counter(w[0] for w in expected["rewards"].values())),
        "seconds per run (slowest)": round(max(o.seconds for d in outcomes for o in d), 2),
        "seconds per single run (slowest)": round(max(single_seconds), 2),
        "deliveries compared": {part: sum(expected[part].values()) for part in DELIVERIES},
        "seconds": round(time.perf_counter() - started, 1),
    }
    _report("program days", figures)
    assert errors == [], errors[0]
    assert duplicates(expected) == {}
    assert duplicates(got) == {}, "delivered twice"
    assert [k for k, n in digests_per_csm_day(got).items() if n > 1] == []
    assert expected["slack"] and expected["emails"] and expected["crm tasks"]
    for part in ("referrals", "rewards", "ledger", "asks", "outbox", *DELIVERIES):
        assert got[part] == expected[part], (part, _diff(expected[part], got[part]))


def _report(name: str, figures: dict[str, Any]) -> None:
    print(f"\nconcurrency, {name}:", json.dumps(figures, indent=1, default=str))
    if path := os.environ.get("REFERRALS_CONCURRENCY_REPORT"):
        report = Path(path)
        found = json.loads(report.read_text()) if report.exists() else {}
        found[name] = figures
        report.write_text(json.dumps(found, indent=1, default=str) + "\n")


@pytest.fixture
def race_urls(postgres, committed_url, tmp_path) -> Iterator[tuple[str, str]]:
    """The reward world's database and, once it is built, a copy of it (same ids)."""
    copies: list[str] = []

    def copy() -> str:
        engine_for(normalise_url(committed_url)).dispose()  # a template must have no sessions
        name = f"referrals_race_{uuid.uuid4().hex[:10]}"
        copies.append(name)
        return postgres.create(name, template=make_url(committed_url).database)

    yield committed_url, copy  # type: ignore[misc]
    for name in copies:
        postgres.drop(name)


def test_two_release_rewards_runs_at_once_end_as_one_run(race_urls, tmp_path) -> None:
    started = time.perf_counter()
    url, copy = race_urls
    factory = session_factory(url)
    race = rewards_world.build(factory, url, tmp_path / "world")
    before = rewards_world.state(factory)
    copy_url = copy()  # type: ignore[operator]
    settings = Settings(_env_file=None, **race.env)  # type: ignore[call-arg]
    counts = dict(release_rewards(factory, race.program, settings, rewards_world.RACE_AT).counts)
    with Runner({**race.env, "DATABASE_URL": copy_url}, 2) as runner:
        outcomes = runner.run("release-rewards", rewards_world.RACE_AT, 2)
    expected = rewards_world.state(factory)
    copy_factory = session_factory(copy_url)
    got = rewards_world.state(copy_factory)
    engine_for(normalise_url(copy_url)).dispose()
    both: Counter[str] = Counter()
    for outcome in outcomes:
        both.update(outcome.counts)
    figures = {
        "rewards": len(before["rewards"]),
        "due at the race": sum(
            1 for r in before["rewards"].values() if r[0] in {"holding", "approved"}
        ),
        "one run": {k: v for k, v in sorted(counts.items()) if v},
        "two runs at once, together": {k: v for k, v in sorted(both.items()) if v},
        "seconds overlapping": round(overlap(outcomes), 2),
        "released twice": rewards_world.released_twice(got),
        "over the yearly cap": rewards_world.over_cap(got),
        "seconds": round(time.perf_counter() - started, 1),
    }
    _report("release-rewards", figures)
    assert [o.error for o in outcomes if o.error] == []
    assert counts["rewards released"] >= 10 and counts["rewards awaiting_approval"] >= 1, counts
    assert counts["rewards netted"] >= 1, counts
    assert rewards_world.released_twice(got) == {} and rewards_world.over_cap(got) == {}
    assert rewards_world.over_cap(expected) == {}
    for part in ("rewards", "ledger", "outbox"):
        assert got[part] == expected[part], (part, _diff(expected[part], got[part]))


def _diff(expected: Any, got: Any, most: int = 6) -> list[tuple[Any, Any, Any]]:
    """A few keys whose values differ: (key, expected, got)."""
    keys = sorted(set(expected) | set(got), key=str)
    found = [(k, expected.get(k), got.get(k)) for k in keys if expected.get(k) != got.get(k)]
    return found[:most]


WORKERS_KNOB = "REFERRALS_WORKERS_TEST"
WORKER_RUNS = 3  # daily-cycle runs of the same day at once, on two workers
WARM_UP = 4  # days lived before, in process, so that the day has work in every flow


@pytest.mark.skipif(
    os.environ.get(WORKERS_KNOB) != "1",
    reason=f"a Prefect server, two workers, four flow-run processes (~1 min): {WORKERS_KNOB}=1",
)
def test_several_prefect_workers_on_one_pool_end_as_one_run(postgres, two_urls, tmp_path) -> None:
    started = time.perf_counter()
    book = generate_book(seed=SEED, accounts=ACCOUNTS, days=WARM_UP + 1)
    single = World(two_urls[0], tmp_path / "single", book, SEED)
    together = World(two_urls[1], tmp_path / "together", book, SEED)
    prefect_db = f"prefect_{uuid.uuid4().hex[:10]}"
    prefect_url = make_url(postgres.create(prefect_db)).set(drivername="postgresql+asyncpg")
    engine = create_engine(postgres.base.set(database=prefect_db), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:  # Prefect's server needs it (PREFECT-NOTES)
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    engine.dispose()
    stack = PrefectStack(tmp_path / "prefect", prefect_url.render_as_string(hide_password=False))
    try:
        for world in (single, together):
            world.set_up()
            for offset in range(WARM_UP):
                _live_day(world, day_at(book.start, offset), _in_process(world, []))
        day = day_at(book.start, WARM_UP)
        while day.weekday() >= 5:  # a weekday: prompt-csms runs too
            day += timedelta(days=1)
        for world in (single, together):
            world.clock[0] = day + timedelta(hours=9)
            world.people_act(day)
            world.clock[0] = day + timedelta(hours=10)
        stack.start("referrals-test", workers=2, limit=2)
        at = (day + timedelta(hours=10)).isoformat()
        runs = [{"deployment": "daily-cycle", "parameters": {"at": at}, "env": single.env()}]
        runs += [
            {"deployment": "daily-cycle", "parameters": {"at": at}, "env": together.env()}
        ] * WORKER_RUNS
        states = stack.run(
            {
                "pool": "referrals-test",
                "deployments": {"daily-cycle": "flows/daily_cycle.py:daily_cycle_flow"},
                "runs": runs,
            }
        )
        expected, got = snapshot(single), snapshot(together)
    finally:
        stack.close()
        single.close()
        together.close()
        postgres.drop(prefect_db)
    logs = {name: stack.tail(name, 200) for name in ("worker-0", "worker-1")}
    together_runs = states[1:]
    spans = [(s["start"], s["end"]) for s in together_runs if s["start"] and s["end"]]
    figures = {
        "flow runs": len(states),
        "at once on one world": WORKER_RUNS,
        "flow runs by worker": stack.runs_by_worker([s["id"] for s in states]),
        "states": Counter(s["state"] for s in states),
        "seconds per run": [s["seconds"] and round(s["seconds"], 1) for s in states],
        "seconds overlapping": round(
            sum(
                max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
                for i, a in enumerate(spans)
                for b in spans[i + 1 :]
            ),
            1,
        ),
        "duplicates": duplicates(got),
        "seconds": round(time.perf_counter() - started, 1),
    }
    _report("prefect workers", figures)
    assert [s for s in states if s["state"] != "COMPLETED"] == [], (states, logs)
    assert duplicates(got) == {}, "delivered twice"
    assert [k for k, n in digests_per_csm_day(got).items() if n > 1] == []
    for part in ("referrals", "rewards", "ledger", "asks", "outbox", *DELIVERIES):
        assert got[part] == expected[part], (part, _diff(expected[part], got[part]))


def test_a_digest_waits_for_a_detection_another_run_has_in_flight(
    committed_factory, tmp_path, monkeypatch
) -> None:
    """Two program days at once: run A's detect-moments holds its batch of signals (locked,
    so B's detect-moments skips them) when run B reaches prompt-csms. B must not send the
    CSM a digest of the weekend's ask now and A a second one once its own asks exist: one
    digest a day with every ask, as one run would send."""
    program = load_preset("saas")
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
    w = Scenario(committed_factory)
    csm = w.csm()
    for hours in (30, 3):  # an ask made at the weekend; a signal of this morning
        account = w.account(csm)
        w.person(account)
        w.signal(account, SignalKind.FEEDBACK_POSITIVE, now - timedelta(hours=hours))
        if hours == 30:
            made = detect_moments(committed_factory, program, now - timedelta(days=1))
            assert made.asks_created == 1
    chat = ChatLogNotifier(tmp_path / "chat.log")
    deliverers = {OutboxChannel.CHAT: ChatDeliverer(chat)}

    # A stops inside its batch's transaction, its signal locked, until told to go on.
    holding, go = threading.Event(), threading.Event()
    states = moments_repo.account_states

    def paused(session: Any, ids: Any) -> Any:
        if threading.current_thread().name == "A":
            holding.set()
            assert go.wait(30)
        return states(session, ids)

    monkeypatch.setattr(moments_repo, "account_states", paused)
    reports: dict[str, Any] = {}

    def run(name: str, job: Any) -> threading.Thread:
        thread = threading.Thread(target=lambda: reports.update({name: job()}), name=name)
        thread.start()
        return thread

    a = run("A", lambda: detect_moments(committed_factory, program, now))
    assert holding.wait(30)
    assert detect_moments(committed_factory, program, now).asks_created == 0  # B: skipped
    b = run("b_prompt", lambda: prompt_csms(committed_factory, program, chat, deliverers, now))
    b.join(2)  # B may go ahead or wait for A's detection; either way, then A goes on
    go.set()
    a.join(30)
    b.join(30)
    reports["a_prompt"] = prompt_csms(committed_factory, program, chat, deliverers, now)
    assert reports["A"].asks_created == 1
    with committed_factory() as session:
        digests = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like("slack-digest:%"))
        ).all()
    assert [len(d.payload["ask_ids"]) for d in digests] == [2]
