"""The program report's metrics, each defined once, by month and in total. Pure: the facts
come in as plain rows, the figures go out as a dict that is JSON as it is.

Definitions (the README repeats them):

- asks sent: asks put in front of a CSM (prompted), in the month they were prompted, per CSM;
- intros: those asks that became an intro; positive response rate = intros / asks sent;
- referred leads: referrals captured in the month, every share path and decision;
  eligible leads: those the rules let through;
- referral -> opportunity rate: eligible referrals with a deal that reached the opportunity
  stage / eligible referrals with a deal;
- funnel: asks sent, intros, referred leads, eligible leads, opportunities (eligible
  referrals whose deal reached the opportunity stage), won (those whose deal was won), all
  counted from what happened in the period;
- close rate: won / (won + lost) among deals closed in the month, referral deals vs others;
- cycle days: from a won deal's creation in the CRM to its close; the median, referral vs other;
- deal size: the mean amount of won deals, referral vs other;
- pipeline share: of the deals created in the month, the referral deals' share of the amount
  and of the count, against the program's target;
- pipeline per referring account and per rep: the amount of referral deals created in the
  period, open or won, by the referrer's account and by the deal's owner;
- top referrers: eligible referrals and won amount per referrer; top CSMs: intros per CSM;
- rewards by state: count and amount per status; decisions by reason: every reason code given;
- targets: per CSM and rep, asks in the period's last month against their role's
  ``asks_per_month`` and intros (asks that became one) in its last quarter against
  ``intros_per_quarter``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from statistics import median
from typing import Any

TOTAL = "total"


def month(at: datetime | date) -> str:
    return f"{at.year:04d}-{at.month:02d}"


@dataclass(frozen=True)
class AskRow:
    csm: str  # the CSM's name (a team member, shown to the program's own people)
    prompted_at: datetime
    intro: bool
    role: str | None = None  # csm | rep: whose targets apply


@dataclass(frozen=True)
class Target:
    asks_per_month: int | None = None
    intros_per_quarter: int | None = None


@dataclass(frozen=True)
class ReferralRow:
    submitted_at: datetime
    eligible: bool
    reasons: tuple[str, ...]
    referrer: str  # the referrer's display name
    referring_account: str
    has_deal: bool
    reached_opportunity: bool
    won_amount: Decimal | None  # the deal's amount when won


@dataclass(frozen=True)
class DealRow:
    referral: bool
    owner: str
    referring_account: str | None
    amount: Decimal | None
    created_at: datetime | None
    closed_at: datetime | None
    won: bool
    lost: bool


@dataclass(frozen=True)
class RewardRow:
    status: str
    amount: Decimal


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _months(rows: Iterable[datetime | None]) -> list[str]:
    return sorted({month(at) for at in rows if at is not None})


def program_report(
    asks: Sequence[AskRow],
    referrals: Sequence[ReferralRow],
    deals: Sequence[DealRow],
    rewards: Sequence[RewardRow],
    target_share: float,
    start: date,
    end: date,
    targets: Mapping[str, Target] | None = None,
) -> dict[str, Any]:
    """Every metric by month (``YYYY-MM``) and in ``total`` over ``start``..``end`` (both
    included): a fact counts in the period when its own date falls in it."""

    def inside(at: datetime | None) -> bool:
        return at is not None and start <= at.date() <= end

    asks = [a for a in asks if inside(a.prompted_at)]
    referrals = [r for r in referrals if inside(r.submitted_at)]
    # A deal counts where its own dates fall: created (pipeline) and closed (close rate,
    # cycle and size, measured from its creation whenever that was).
    deals = [d for d in deals if inside(d.created_at) or inside(d.closed_at)]
    keys = sorted(
        {
            *_months(a.prompted_at for a in asks),
            *_months(r.submitted_at for r in referrals),
            *_months(d.created_at for d in deals if inside(d.created_at)),
            *_months(d.closed_at for d in deals if inside(d.closed_at)),
        }
    )
    created = [d for d in deals if inside(d.created_at)]
    by_month = {key: _period(key, inside, asks, referrals, deals, target_share) for key in keys}
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "target_pipeline_share": target_share,
        "months": by_month,
        TOTAL: _period(None, inside, asks, referrals, deals, target_share),
        "pipeline_per_referring_account": _pipeline_by(created, lambda d: d.referring_account),
        "pipeline_per_rep": _pipeline_by(created, lambda d: d.owner),
        "targets": _targets(asks, targets or {}, end),
        "top_referrers": _top_referrers(referrals),
        "top_csms": _top_csms(asks),
        "rewards_by_state": _rewards(rewards),
        "decisions_by_reason": dict(
            Counter(reason for r in referrals for reason in r.reasons).most_common()
        ),
    }


def _period(
    key: str | None,
    inside: Callable[[datetime | None], bool],
    asks: Sequence[AskRow],
    referrals: Sequence[ReferralRow],
    deals: Sequence[DealRow],
    target_share: float,
) -> dict[str, Any]:
    def _in(key: str | None, at: datetime | None) -> bool:
        return inside(at) and at is not None and (key is None or month(at) == key)

    sent = [a for a in asks if _in(key, a.prompted_at)]
    intros = sum(1 for a in sent if a.intro)
    leads = [r for r in referrals if _in(key, r.submitted_at)]
    eligible = [r for r in leads if r.eligible]
    with_deal = [r for r in eligible if r.has_deal]
    created = [d for d in deals if _in(key, d.created_at)]
    closed = [d for d in deals if _in(key, d.closed_at) and (d.won or d.lost)]
    per_csm = Counter(a.csm for a in sent)
    opportunities = sum(1 for r in with_deal if r.reached_opportunity)
    won = sum(1 for r in eligible if r.won_amount is not None)
    return {
        "funnel": {
            "asks_sent": len(sent),
            "intros": intros,
            "referred_leads": len(leads),
            "eligible_leads": len(eligible),
            "opportunities": opportunities,
            "won": won,
        },
        "asks_sent": len(sent),
        "asks_sent_per_csm": dict(sorted(per_csm.items())),
        "intros": intros,
        "positive_response_rate": _rate(intros, len(sent)),
        "referred_leads": len(leads),
        "eligible_leads": len(eligible),
        "referral_to_opportunity_rate": _rate(opportunities, len(with_deal)),
        "referral": _channel([d for d in closed if d.referral]),
        "other": _channel([d for d in closed if not d.referral]),
        "pipeline_share": _share(created, target_share),
    }


def _channel(closed: Sequence[DealRow]) -> dict[str, Any]:
    won = [d for d in closed if d.won]
    cycles = [
        (d.closed_at - d.created_at).total_seconds() / 86400
        for d in won
        if d.closed_at is not None and d.created_at is not None
    ]
    sizes = [d.amount for d in won if d.amount is not None]
    return {
        "won": len(won),
        "lost": len(closed) - len(won),
        "close_rate": _rate(len(won), len(closed)),
        "median_cycle_days": round(median(cycles), 1) if cycles else None,
        "average_deal_size": _money(sum(sizes, Decimal(0)) / len(sizes)) if sizes else None,
    }


def _share(created: Sequence[DealRow], target: float) -> dict[str, Any]:
    amount = sum((d.amount or Decimal(0) for d in created), Decimal(0))
    referred = sum((d.amount or Decimal(0) for d in created if d.referral), Decimal(0))
    count = sum(1 for d in created if d.referral)
    share = float(referred / amount) if amount else None
    return {
        "deals": len(created),
        "referral_deals": count,
        "amount": _money(amount),
        "referral_amount": _money(referred),
        "share_of_amount": round(share, 4) if share is not None else None,
        "share_of_count": _rate(count, len(created)),
        "target": target,
        "on_target": share >= target if share is not None else None,
    }


def _pipeline_by(
    deals: Sequence[DealRow], key: Callable[[DealRow], str | None]
) -> dict[str, float]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for deal in deals:
        if deal.referral and not deal.lost and deal.amount is not None:
            totals[key(deal) or "(unknown)"] += deal.amount
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return {name: _money(amount) for name, amount in ranked}


def _quarter(at: date) -> tuple[int, int]:
    return at.year, (at.month - 1) // 3 + 1


def _targets(asks: Sequence[AskRow], targets: Mapping[str, Target], end: date) -> dict[str, Any]:
    """Each CSM's and rep's progress in the period's last month (asks) and quarter
    (intros) against their role's target."""
    people: dict[str, str] = {a.csm: a.role or "" for a in asks if a.role in targets}
    rows = []
    for name, role in sorted(people.items()):
        target = targets[role]
        mine = [a for a in asks if a.csm == name]
        asks_done = sum(1 for a in mine if month(a.prompted_at) == month(end))
        intros_done = sum(
            1 for a in mine if a.intro and _quarter(a.prompted_at.date()) == _quarter(end)
        )
        rows.append(
            {
                "who": name,
                "role": role,
                "asks_this_month": asks_done,
                "asks_target": target.asks_per_month,
                "asks_progress": _rate(asks_done, target.asks_per_month or 0),
                "intros_this_quarter": intros_done,
                "intros_target": target.intros_per_quarter,
                "intros_progress": _rate(intros_done, target.intros_per_quarter or 0),
            }
        )
    year, quarter = _quarter(end)
    return {"month": month(end), "quarter": f"{year}-Q{quarter}", "people": rows}


def _top_referrers(referrals: Sequence[ReferralRow], size: int = 10) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    won: dict[str, Decimal] = defaultdict(Decimal)
    for r in referrals:
        if r.eligible:
            counts[r.referrer] += 1
            won[r.referrer] += r.won_amount or Decimal(0)
    ranked = sorted(counts, key=lambda name: (-won[name], -counts[name], name))[:size]
    return [
        {"referrer": name, "eligible_referrals": counts[name], "won_amount": _money(won[name])}
        for name in ranked
    ]


def _top_csms(asks: Sequence[AskRow], size: int = 10) -> list[dict[str, Any]]:
    sent: Counter[str] = Counter(a.csm for a in asks)
    intros: Counter[str] = Counter(a.csm for a in asks if a.intro)
    ranked = sorted(sent, key=lambda name: (-intros[name], -sent[name], name))[:size]
    return [
        {
            "csm": name,
            "asks_sent": sent[name],
            "intros": intros[name],
            "positive_response_rate": _rate(intros[name], sent[name]),
        }
        for name in ranked
    ]


def _rewards(rewards: Sequence[RewardRow]) -> dict[str, dict[str, Any]]:
    found: dict[str, list[Decimal]] = defaultdict(list)
    for reward in rewards:
        found[reward.status].append(reward.amount)
    return {
        status: {"count": len(amounts), "amount": _money(sum(amounts, Decimal(0)))}
        for status, amounts in sorted(found.items())
    }
