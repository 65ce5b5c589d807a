"""Champions: whom on an account to ask, scored by the seed's grid. Pure rules.

Satisfaction (NPS/CSAT), seniority (from the title), network and external visibility,
referral history (past intros up, past declines down) and account health, weighted by the
program. Opted-out people and people in their cooldown are never candidates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.program_champions import Scoring
from domain.program_moments import Guards

SENIORITY_VALUE: dict[str, float] = {
    "c_level": 1.0,
    "vp": 0.85,
    "director": 0.7,
    "manager": 0.5,
    "individual": 0.3,
    "unknown": 0.2,
}


@dataclass(frozen=True)
class Candidate:
    person_id: int
    account_id: int
    seniority: str
    linkedin_followers: int = 0
    speaks_at_events: bool = False
    opted_out: bool = False
    nps: float | None = None  # this person's latest NPS (0..10)
    csat: float | None = None  # latest CSAT (1..5)
    intros: int = 0  # referrals they made before
    declines: int = 0  # asks they declined
    last_asked_at: datetime | None = None
    last_declined_at: datetime | None = None


@dataclass(frozen=True)
class ScoreParts:
    satisfaction: float
    seniority: float
    network: float
    history: float
    health: float
    total: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def satisfaction(candidate: Candidate, account_nps: float | None) -> float:
    if candidate.nps is not None:
        return _clamp(candidate.nps / 10)
    if candidate.csat is not None:
        return _clamp((candidate.csat - 1) / 4)
    return _clamp(account_nps / 10) if account_nps is not None else 0.5


def network(followers: int, speaks_at_events: bool) -> float:
    """log scale: 100 followers ~ 0.4, 10k ~ 0.8; speaking at events adds visibility."""
    return _clamp(math.log10(max(followers, 0) + 1) / 5 + (0.3 if speaks_at_events else 0.0))


def history(intros: int, declines: int, decline_penalty: float) -> float:
    return _clamp(0.5 + 0.25 * intros - decline_penalty * declines)


def score(
    candidate: Candidate, health_score: int | None, account_nps: float | None, scoring: Scoring
) -> ScoreParts:
    weights = scoring.weights
    parts = {
        "satisfaction": satisfaction(candidate, account_nps),
        "seniority": SENIORITY_VALUE.get(candidate.seniority, 0.2),
        "network": network(candidate.linkedin_followers, candidate.speaks_at_events),
        "history": history(candidate.intros, candidate.declines, scoring.decline_penalty),
        "health": _clamp((health_score if health_score is not None else 50) / 100),
    }
    weight = {k: getattr(weights, k) for k in parts}
    total = sum(parts[k] * weight[k] for k in parts) / sum(weight.values())
    return ScoreParts(**parts, total=total)


def exclusion(candidate: Candidate, now: datetime, guards: Guards) -> str | None:
    """Why this person may not be asked now, or None."""
    if candidate.opted_out:
        return "opted_out"
    cooldown = timedelta(days=guards.person_cooldown_days)
    if candidate.last_asked_at is not None and now - candidate.last_asked_at < cooldown:
        return "person_cooldown"
    if candidate.last_declined_at is not None and now - candidate.last_declined_at < cooldown:
        return "declined_recently"
    return None


def rank_champions(
    candidates: Sequence[Candidate],
    health_score: int | None,
    account_nps: float | None,
    scoring: Scoring,
    guards: Guards,
    now: datetime,
) -> list[tuple[Candidate, ScoreParts]]:
    """Askable candidates at or above the minimum score, best first (ties: lower id first)."""
    ranked = []
    for candidate in candidates:
        if exclusion(candidate, now, guards) is not None:
            continue
        parts = score(candidate, health_score, account_nps, scoring)
        if parts.total >= scoring.min_score:
            ranked.append((candidate, parts))
    return sorted(ranked, key=lambda item: (-item[1].total, item[0].person_id))


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Proposal:
    """An ask to schedule: who, for which CSM, how urgent."""

    key: int  # the moment id
    csm_id: int
    priority: float


def schedule(
    proposals: Sequence[Proposal],
    used: Mapping[tuple[int, str], int],
    cap: int,
    today: date,
    horizon_weeks: int = 12,
) -> dict[int, date]:
    """The week each proposal is asked in: highest priority first, at most ``cap`` per CSM per
    week counting asks already scheduled; overflow waits for a later week, never dropped
    (within the horizon)."""
    load = dict(used)
    weeks: dict[int, date] = {}
    for proposal in sorted(proposals, key=lambda p: (-p.priority, p.key)):
        start = week_start(today)
        for _ in range(horizon_weeks):
            slot = (proposal.csm_id, week_key(start))
            if load.get(slot, 0) < cap:
                load[slot] = load.get(slot, 0) + 1
                weeks[proposal.key] = start
                break
            start += timedelta(days=7)
    return weeks
