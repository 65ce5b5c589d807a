"""Both sides' figures side by side, as rows a person reads: current, candidate, change."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from simulation.backtest.figures import Figures
from simulation.backtest.run import Backtest

REWARD_ORDER = (
    "pending",
    "holding",
    "awaiting_approval",
    "awaiting_tax_form",
    "approved",
    "released",
    "paid",
    "voided",
    "clawed_back",
)


def comparison_rows(backtest: Backtest) -> list[dict[str, Any]]:
    current, candidate = backtest.current, backtest.candidate
    rows = [_row("asks created", current.asks, candidate.asks)]
    rows += _counted("  trigger", current.asks_by_trigger, candidate.asks_by_trigger)
    rows += _counted("  CSM", current.asks_by_csm, candidate.asks_by_csm)
    rows += _counted("  outcome", current.asks_by_outcome, candidate.asks_by_outcome)
    rows.append(_row("referrals submitted", current.referrals, candidate.referrals))
    rows += _counted("  decision", current.by_decision, candidate.by_decision)
    rows += _counted("  reason", current.by_reason, candidate.by_reason)
    rows.append(_row("rewards accrued", _count(current), _count(candidate)))
    for state in _states(current, candidate):
        now_count, now_amount = current.rewards.get(state, (0, Decimal(0)))
        new_count, new_amount = candidate.rewards.get(state, (0, Decimal(0)))
        rows.append(_row(f"  {state}", now_count, new_count))
        rows.append(_money(f"  {state} amount", now_amount, new_amount))
    rows.append(
        _row(
            "messages (sent | would send)",
            sum(current.messages.values()),
            sum(candidate.messages.values()),
        )
    )
    rows += _counted("  channel", current.messages, candidate.messages)
    return rows


def _row(item: str, now: int, new: int) -> dict[str, Any]:
    return {"item": item, "current": now, "candidate": new, "change": f"{new - now:+d}"}


def _money(item: str, now: Decimal, new: Decimal) -> dict[str, Any]:
    return {
        "item": item,
        "current": f"{now:,.2f}",
        "candidate": f"{new:,.2f}",
        "change": f"{new - now:+,.2f}",
    }


def _counted(label: str, now: Counter[str], new: Counter[str]) -> list[dict[str, Any]]:
    keys = sorted(set(now) | set(new), key=lambda k: (-max(now[k], new[k]), k))
    return [_row(f"{label} {key}", now[key], new[key]) for key in keys]


def _count(figures: Figures) -> int:
    return sum(count for count, _ in figures.rewards.values())


def _states(current: Figures, candidate: Figures) -> list[str]:
    seen = set(current.rewards) | set(candidate.rewards)
    return [s for s in REWARD_ORDER if s in seen] + sorted(seen - set(REWARD_ORDER))
