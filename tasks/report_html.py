"""The report as one self-contained HTML page: the tables of `report.md` and three charts
drawn with matplotlib as inline SVG (no file or network it depends on). Everything taken
from the data is escaped by Jinja2's autoescape."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import matplotlib.pyplot as plt
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from domain.report.markdown import headline

FUNNEL_STEPS = (
    ("asks_sent", "Asks sent"),
    ("intros", "Intros"),
    ("referred_leads", "Referred leads (all paths)"),
    ("eligible_leads", "Eligible"),
    ("opportunities", "Opportunities"),
    ("won", "Won"),
)


def _svg(figure: Any) -> Markup:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return Markup(text[text.index("<svg") :])  # drop the XML prolog: it sits inside HTML


def funnel_chart(report: Mapping[str, Any]) -> Markup:
    funnel = report["total"]["funnel"]
    labels = [label for _, label in FUNNEL_STEPS]
    values = [funnel[key] for key, _ in FUNNEL_STEPS]
    figure, axes = plt.subplots(figsize=(7, 3.2))
    bars = axes.barh(labels[::-1], values[::-1], color="#3b6ea8")
    axes.bar_label(bars, padding=3)
    axes.set_title("From asks to won deals")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def share_chart(report: Mapping[str, Any]) -> Markup:
    months = list(report["months"])
    shares = [(report["months"][m]["pipeline_share"]["share_of_amount"] or 0) * 100 for m in months]
    target = report["target_pipeline_share"] * 100
    figure, axes = plt.subplots(figsize=(7, 3.2))
    axes.bar(months, shares, color="#3b6ea8", label="referral share of new pipeline")
    axes.axhline(target, color="#c0392b", linestyle="--", label=f"target {target:.0f}%")
    axes.set_ylabel("% of amount")
    axes.set_title("Referral share of pipeline by month")
    axes.legend(loc="upper right", frameon=False)
    axes.tick_params(axis="x", rotation=45)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def channels_chart(report: Mapping[str, Any]) -> Markup:
    total = report["total"]
    figure, (cycle, size) = plt.subplots(1, 2, figsize=(7, 3))
    names = ["referrals", "other channels"]
    colours = ["#3b6ea8", "#9aa5b1"]
    cycle.bar(
        names,
        [total["referral"]["median_cycle_days"] or 0, total["other"]["median_cycle_days"] or 0],
        color=colours,
    )
    cycle.set_title("Median cycle (days)")
    size.bar(
        names,
        [total["referral"]["average_deal_size"] or 0, total["other"]["average_deal_size"] or 0],
        color=colours,
    )
    size.set_title("Average won deal size")
    for axes in (cycle, size):
        axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1f2933; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d9e2ec; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.charts figure { margin: 0; }
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ period.from }} to {{ period.to }}</p>
<p><strong>{{ headline }}</strong></p>
<div class="charts">
  <figure>{{ funnel }}</figure>
  <figure>{{ share }}</figure>
  <figure>{{ channels }}</figure>
</div>
<h2>By month</h2>
<table><tr><th>month</th><th>asks</th><th>intros</th><th>leads</th><th>eligible</th>
<th>referral close rate</th><th>other close rate</th><th>pipeline share</th></tr>
{% for key, m in months.items() %}
<tr><td>{{ key }}</td><td>{{ m.asks_sent }}</td><td>{{ m.intros }}</td>
<td>{{ m.referred_leads }}</td><td>{{ m.eligible_leads }}</td>
<td>{{ pct(m.referral.close_rate) }}</td><td>{{ pct(m.other.close_rate) }}</td>
<td>{{ pct(m.pipeline_share.share_of_amount) }}</td></tr>
{% endfor %}
</table>
<h2>Targets ({{ report.targets.month }} asks, {{ report.targets.quarter }} intros)</h2>
<table><tr><th>who</th><th>role</th><th>asks</th><th>asks target</th><th>intros</th>
<th>intros target</th></tr>
{% for p in report.targets.people %}
<tr><td>{{ p.who }}</td><td>{{ p.role }}</td><td>{{ p.asks_this_month }}</td>
<td>{{ p.asks_target or "-" }}</td><td>{{ p.intros_this_quarter }}</td>
<td>{{ p.intros_target or "-" }}</td></tr>
{% endfor %}
</table>
<h2>Top referrers</h2>
<table><tr><th>referrer</th><th>eligible referrals</th><th>won amount</th></tr>
{% for r in report.top_referrers %}
<tr><td>{{ r.referrer }}</td><td>{{ r.eligible_referrals }}</td>
<td>{{ "{:,.0f}".format(r.won_amount) }}</td></tr>
{% endfor %}
</table>
<h2>Top CSMs</h2>
<table><tr><th>CSM</th><th>asks</th><th>intros</th><th>response</th></tr>
{% for c in report.top_csms %}
<tr><td>{{ c.csm }}</td><td>{{ c.asks_sent }}</td><td>{{ c.intros }}</td>
<td>{{ pct(c.positive_response_rate) }}</td></tr>
{% endfor %}
</table>
<h2>Rewards by state</h2>
<table><tr><th>state</th><th>count</th><th>amount</th></tr>
{% for state, v in report.rewards_by_state.items() %}
<tr><td>{{ state }}</td><td>{{ v.count }}</td><td>{{ "{:,.2f}".format(v.amount) }}</td></tr>
{% endfor %}
</table>
<h2>Eligibility decisions by reason</h2>
<table><tr><th>reason</th><th>count</th></tr>
{% for reason, count in report.decisions_by_reason.items() %}
<tr><td>{{ reason }}</td><td>{{ count }}</td></tr>
{% endfor %}
</table>
</body></html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def report_html(report: Mapping[str, Any], title: str) -> str:
    return _ENV.from_string(PAGE).render(
        title=title,
        period=report["period"],
        headline=headline(report),
        months={**report["months"], "total": report["total"]},
        report=report,
        pct=_pct,
        funnel=funnel_chart(report),
        share=share_chart(report),
        channels=channels_chart(report),
    )
