"""Champion scoring, exclusions and the weekly cap, as pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.champions import Candidate, Proposal, rank_champions, schedule, score, week_key
from domain.program import load_preset

PROGRAM = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday


def cand(pid: int, **kw) -> Candidate:
    return Candidate(person_id=pid, account_id=1, seniority=kw.pop("seniority", "manager"), **kw)


def ranked_ids(candidates, health=80, nps=None) -> list[int]:
    return [
        c.person_id
        for c, _ in rank_champions(candidates, health, nps, PROGRAM.scoring, PROGRAM.guards, NOW)
    ]


def test_the_grid_orders_satisfied_senior_visible_people_first():
    promoter_cfo = cand(
        1, seniority="c_level", nps=10, linkedin_followers=12000, speaks_at_events=True
    )
    passive_manager = cand(2, nps=7)
    unknown_analyst = cand(3, seniority="individual")
    assert ranked_ids([unknown_analyst, passive_manager, promoter_cfo]) == [1, 2, 3]


def test_score_parts_are_kept_and_weighted():
    parts = score(cand(1, seniority="vp", nps=9, intros=2), 90, None, PROGRAM.scoring)
    assert parts.satisfaction == 0.9 and parts.seniority == 0.85 and parts.history == 1.0
    assert parts.health == 0.9 and 0 < parts.total <= 1
    assert set(parts.as_dict()) == {
        "satisfaction",
        "seniority",
        "network",
        "history",
        "health",
        "total",
    }


def test_opted_out_and_cooling_down_people_are_never_candidates():
    cooldown = timedelta(days=PROGRAM.guards.person_cooldown_days)
    people = [
        cand(1, nps=10, opted_out=True),
        cand(2, nps=10, last_asked_at=NOW - cooldown + timedelta(days=1)),
        cand(3, nps=10, last_declined_at=NOW - timedelta(days=3)),
        cand(4, nps=6, last_asked_at=NOW - cooldown - timedelta(days=1)),
    ]
    assert ranked_ids(people) == [4]


def test_declines_lower_the_score():
    never = score(cand(1, nps=9), 80, None, PROGRAM.scoring)
    declined = score(cand(1, nps=9, declines=1), 80, None, PROGRAM.scoring)
    assert declined.total < never.total and declined.history < never.history


def test_people_below_the_minimum_score_are_not_asked():
    weak = cand(1, seniority="unknown", nps=0)
    assert ranked_ids([weak], health=10) == []


def test_weekly_cap_pushes_overflow_to_the_next_week_in_priority_order():
    proposals = [Proposal(key=i, csm_id=7, priority=i / 10) for i in range(1, 8)]
    weeks = schedule(proposals, {}, cap=5, today=NOW.date())
    this_week, next_week = date(2026, 3, 2), date(2026, 3, 9)
    assert sorted(k for k, w in weeks.items() if w == this_week) == [3, 4, 5, 6, 7]
    assert sorted(k for k, w in weeks.items() if w == next_week) == [1, 2]


def test_the_cap_counts_asks_already_scheduled_and_is_per_csm():
    used = {(7, week_key(NOW.date())): 4}
    weeks = schedule(
        [Proposal(1, 7, 0.9), Proposal(2, 7, 0.8), Proposal(3, 8, 0.1)],
        used,
        cap=5,
        today=NOW.date(),
    )
    assert weeks == {1: date(2026, 3, 2), 2: date(2026, 3, 9), 3: date(2026, 3, 2)}
