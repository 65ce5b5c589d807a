"""The monthly recognition post: the last complete month's client champions, CSMs and reps
thanked by name in a Slack channel. Pure: the month's report (people by id) and the names to
show come in, the mrkdwn text goes out.

The leaderboards are the report's own (``top_referrers``, ``top_csms``, ``pipeline_per_rep``
over that month), so the post never ranks anyone differently from the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from domain.digest import mrkdwn

SIZE = 5
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Slack mrkdwn has no escape for its formatting marks: a name's own ``*`` or ``_`` would make
# the rest of the line bold or italic, so they are shown as look-alikes instead.
_MARKS = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})


def last_complete_month(now: datetime | date) -> tuple[date, date]:
    """The calendar month before ``now``'s: its first and last day."""
    last = date(now.year, now.month, 1) - timedelta(days=1)
    return last.replace(day=1), last


def shown(text: str) -> str:
    """A name as Slack should print it: never a mention, a link or formatting."""
    return mrkdwn(text).translate(_MARKS)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _money(amount: float, currency: str) -> str:
    return f"{currency} {amount:,.0f}"


def recognition_text(
    report: Mapping[str, Any],
    program_name: str,
    currency: str,
    names: Mapping[str, str],
    size: int = SIZE,
) -> str | None:
    """The post for the month ``report`` covers, or None when nobody is on any leaderboard.

    ``names`` maps the report's ids (``person:12``, ``team_member:3``) to what the post calls
    them (a champion's first name and company); anyone without a name is left out rather
    than thanked as an id."""
    champions = [
        f"{shown(names[r['referrer']])}: "
        + _plural(r["eligible_referrals"], "referral")
        + (f", {_money(r['won_amount'], currency)} won" if r["won_amount"] else "")
        for r in report["top_referrers"]
        if r["referrer"] in names
    ][:size]
    csms = [
        f"{shown(names[c['csm']])}: "
        + (
            f"{_plural(c['intros'], 'intro')} from {_plural(c['asks_sent'], 'ask')}"
            if c["intros"]
            else _plural(c["asks_sent"], "ask")
        )
        for c in report["top_csms"]
        if c["csm"] in names
    ][:size]
    reps = [
        f"{shown(names[rep])}: {_money(amount, currency)} of referral pipeline"
        for rep, amount in report["pipeline_per_rep"].items()
        if rep in names and amount > 0
    ][:size]
    if not (champions or csms or reps):
        return None
    first = date.fromisoformat(report["period"]["from"])
    title = f"{MONTH_NAMES[first.month - 1]} {first.year}"
    lines = [f"*{shown(program_name)}: thank you for {title}*"]
    for heading, entries in (
        ("Client champions", champions),
        ("CSMs (intros from their asks)", csms),
        ("Reps", reps),
    ):
        if entries:
            lines.append(f"*{heading}*")
            lines += [f"\u2022 {entry}" for entry in entries]
    lines.append(
        "Thank you all: every intro is a client vouching for us and a colleague who asked."
    )
    return "\n".join(lines)
