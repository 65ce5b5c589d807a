"""The report as Markdown: a headline, then tables. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | int | None, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines if rows else [*lines[:2], "| " + " | ".join("-" for _ in headers) + " |"]


def headline(report: Mapping[str, Any]) -> str:
    total = report["total"]
    share = total["pipeline_share"]
    return (
        f"{total['asks_sent']} asks, {total['intros']} intros "
        f"({_pct(total['positive_response_rate'])}), {total['referred_leads']} referred leads "
        f"({total['eligible_leads']} eligible); referrals are {_pct(share['share_of_amount'])} of "
        f"new pipeline (target {_pct(share['target'])}); referral close rate "
        f"{_pct(total['referral']['close_rate'])} vs {_pct(total['other']['close_rate'])}."
    )


def report_markdown(report: Mapping[str, Any], title: str) -> str:
    period = report["period"]
    lines = [f"# {title}", "", f"{period['from']} to {period['to']}", "", headline(report), ""]
    lines += ["## By month", ""]
    months = {**report["months"], "total": report["total"]}
    lines += _table(
        [
            "month",
            "asks",
            "intros",
            "response",
            "leads",
            "eligible",
            "to opportunity",
            "close rate (ref / other)",
            "cycle days (ref / other)",
            "deal size (ref / other)",
            "pipeline share",
        ],
        [
            [
                key,
                m["asks_sent"],
                m["intros"],
                _pct(m["positive_response_rate"]),
                m["referred_leads"],
                m["eligible_leads"],
                _pct(m["referral_to_opportunity_rate"]),
                f"{_pct(m['referral']['close_rate'])} / {_pct(m['other']['close_rate'])}",
                f"{_num(m['referral']['median_cycle_days'])} / "
                f"{_num(m['other']['median_cycle_days'])}",
                f"{_num(m['referral']['average_deal_size'])} / "
                f"{_num(m['other']['average_deal_size'])}",
                f"{_pct(m['pipeline_share']['share_of_amount'])} "
                f"(target {_pct(m['pipeline_share']['target'])})",
            ]
            for key, m in months.items()
        ],
    )
    targets = report["targets"]
    lines += ["", f"## Targets ({targets['month']} asks, {targets['quarter']} intros)", ""]
    if not targets["people"]:
        lines.append("No targets in the program file (`targets:`), or nobody with one asked.")
    lines += _table(
        ["who", "role", "asks", "asks target", "intros", "intros target"],
        [
            [
                p["who"],
                p["role"],
                p["asks_this_month"],
                _num(p["asks_target"]),
                p["intros_this_quarter"],
                _num(p["intros_target"]),
            ]
            for p in targets["people"]
        ],
    )
    lines += ["", "## Top referrers", ""]
    lines += _table(
        ["referrer", "eligible referrals", "won amount"],
        [
            [r["referrer"], r["eligible_referrals"], _num(r["won_amount"])]
            for r in report["top_referrers"]
        ],
    )
    lines += ["", "## Top CSMs", ""]
    lines += _table(
        ["CSM", "asks", "intros", "response"],
        [
            [c["csm"], c["asks_sent"], c["intros"], _pct(c["positive_response_rate"])]
            for c in report["top_csms"]
        ],
    )
    for key, heading, column in (
        ("pipeline_per_referring_account", "Pipeline per referring account", "account"),
        ("pipeline_per_rep", "Pipeline per rep", "rep"),
    ):
        lines += ["", f"## {heading}", ""]
        lines += _table([column, "amount"], [[k, _num(v)] for k, v in report[key].items()])
    lines += ["", "## Rewards by state", ""]
    lines += _table(
        ["state", "count", "amount"],
        [[k, v["count"], _num(v["amount"])] for k, v in report["rewards_by_state"].items()],
    )
    lines += ["", "## Eligibility decisions by reason", ""]
    lines += _table(["reason", "count"], list(report["decisions_by_reason"].items()))
    return "\n".join(lines) + "\n"
