"""A backtest from start to end: snapshot and copy, replay the candidate program over the
history, read both sides' figures for the period, remove the copy."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from core.settings import Settings
from db.engine import session_factory
from domain.program import Program
from simulation.backtest.copy import throwaway_copy
from simulation.backtest.figures import Figures, read_figures
from simulation.backtest.history import History, read_history
from simulation.backtest.replay import ReplayReport, dry_run_settings, replay

NOTES = (
    "Referrals, deals and their stages are replayed as they happened; a referral the "
    "candidate pushes that the current program did not has no deal in history (it stays at "
    "the intro), and one it does not push has none.",
    "A deal's amount is the one stored now (the database keeps no history of amounts): a "
    "reward that is a share of a deal is computed from it, so for a period that ends before "
    "a deal's amount was set or changed its amount differs from what the current program "
    "had then (whole history: equal once the current program recomputed it).",
    "People's decisions are replayed where they still fit (same ask open, same referral in "
    "review, same reward awaiting approval); the others are counted under 'replayed'.",
)


class BacktestError(ValueError):
    """Nothing to replay, or a period that makes no sense."""


@dataclass(frozen=True)
class Backtest:
    first_day: date
    last_day: date
    replay: ReplayReport
    current: Figures
    candidate: Figures
    copy_label: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {
                "from": self.first_day.isoformat(),
                "to": self.last_day.isoformat(),
                "replayed_from": self.replay.first_day.isoformat(),
                "days_replayed": self.replay.days,
            },
            "copy": self.copy_label,
            "current": self.current.as_dict(),
            "candidate": self.candidate.as_dict(),
            "replayed": dict(sorted(self.replay.human.items())),
            "notes": list(NOTES),
        }


def run_backtest(
    source_url: str,
    program: Program,
    settings: Settings,
    first: date | None,
    last: date | None,
    today: date,
) -> Backtest:
    """``first``/``last``: the period reported (default: the whole history up to today).
    The replay always starts at the beginning of history, so the period opens with the
    cooldowns, claims and rewards the candidate would have had by then."""
    with throwaway_copy(source_url, read_history) as (copy, history):
        start, end = _period(history, first, last, today)
        replay_from = min(start, _first_day(history))
        factory = session_factory(copy.url)
        with tempfile.TemporaryDirectory(prefix="referrals-backtest-data-") as folder:
            report = replay(
                factory,
                history,
                program,
                dry_run_settings(settings, Path(folder)),
                replay_from,
                end,
            )
        window = (_midnight(start), _midnight(end + timedelta(days=1)))
        with factory() as session:
            candidate = read_figures(session, *window)
        label = copy.label
    with session_factory(source_url)() as session:
        current = read_figures(session, *window)
    return Backtest(start, end, report, current, candidate, label)


def _first_day(history: History) -> date:
    if history.first_fact is None:
        raise BacktestError(
            "nothing to replay: the database has no signals, referrals or program runs yet"
        )
    return history.first_fact.date()


def _period(
    history: History, first: date | None, last: date | None, today: date
) -> tuple[date, date]:
    begin = _first_day(history)
    latest = history.last_fact.date() if history.last_fact else today
    end = last or min(latest, today)
    start = first or begin
    if start > end:
        raise BacktestError(f"--from {start} is after --to {end}")
    return start, end


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)
