"""The recognition post's words from a hand-built month of the report: who is thanked, for
what, in which order, and a name can never mention, link or format anything in Slack."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.report.recognition import last_complete_month, recognition_text


def month_report(**overrides: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "period": {"from": "2026-11-01", "to": "2026-11-30"},
        "top_referrers": [
            {"referrer": "person:1", "eligible_referrals": 3, "won_amount": 45000.0},
            {"referrer": "(unknown)", "eligible_referrals": 2, "won_amount": 0.0},
            {"referrer": "person:2", "eligible_referrals": 1, "won_amount": 0.0},
        ],
        "top_csms": [
            {"csm": "team_member:7", "asks_sent": 9, "intros": 4},
            {"csm": "team_member:8", "asks_sent": 1, "intros": 0},
        ],
        "pipeline_per_rep": {"team_member:9": 45000.0, "(no owner)": 1200.0},
    }
    return {**report, **overrides}


NAMES = {
    "person:1": "Ana (Acme & Sons)",
    "person:2": "<script>alert(1)</script> (*Bold* Ltd)",
    "team_member:7": "Casey_Ng",
    "team_member:8": "<!channel>",
    "team_member:9": "Rob ~Diaz~ `x`",
}


def test_the_post_thanks_each_board_with_its_figure_and_escapes_every_name():
    text = recognition_text(month_report(), "Acme *Referrals*", "EUR", NAMES)

    assert text == (
        "*Acme \u2217Referrals\u2217: thank you for November 2026*\n"
        "*Client champions*\n"
        "\u2022 Ana (Acme &amp; Sons): 3 referrals, EUR 45,000 won\n"
        "\u2022 &lt;script&gt;alert(1)&lt;/script&gt; (\u2217Bold\u2217 Ltd): 1 referral\n"
        "*CSMs (intros from their asks)*\n"
        "\u2022 Casey\u02cdNg: 4 intros from 9 asks\n"
        "\u2022 &lt;!channel&gt;: 1 ask\n"
        "*Reps*\n"
        "\u2022 Rob \u223cDiaz\u223c \u02cbx\u02cb: EUR 45,000 of referral pipeline\n"
        "Thank you all: every intro is a client vouching for us and a colleague who asked."
    )
    # The only markup left is the post's own: bold headings, nothing a name brought.
    assert "<" not in text and ">" not in text
    assert [line for line in text.splitlines() if "*" in line] == [
        "*Acme \u2217Referrals\u2217: thank you for November 2026*",
        "*Client champions*",
        "*CSMs (intros from their asks)*",
        "*Reps*",
    ]


def test_a_board_with_nobody_on_it_is_left_out_and_the_list_is_capped():
    referrers = [
        {"referrer": f"person:{n}", "eligible_referrals": 1, "won_amount": 0.0} for n in range(1, 9)
    ]
    names = {f"person:{n}": f"P{n} (Co)" for n in range(1, 9)}
    text = recognition_text(
        month_report(top_referrers=referrers, top_csms=[], pipeline_per_rep={}),
        "Refer",
        "USD",
        names,
        size=2,
    )
    assert text == (
        "*Refer: thank you for November 2026*\n"
        "*Client champions*\n"
        "\u2022 P1 (Co): 1 referral\n"
        "\u2022 P2 (Co): 1 referral\n"
        "Thank you all: every intro is a client vouching for us and a colleague who asked."
    )


def test_a_month_with_nobody_to_thank_has_no_post():
    empty = month_report(top_referrers=[], top_csms=[], pipeline_per_rep={})
    assert recognition_text(empty, "Refer", "USD", NAMES) is None
    # People the post cannot name (gone from the database) are not thanked as ids.
    unnamed = month_report(pipeline_per_rep={"team_member:9": 0.0})
    assert recognition_text(unnamed, "Refer", "USD", {}) is None


@pytest.mark.parametrize(
    ("now", "first", "last"),
    [
        (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), date(2026, 11, 1), date(2026, 11, 30)),
        (datetime(2027, 1, 31, 23, 59, tzinfo=UTC), date(2026, 12, 1), date(2026, 12, 31)),
        (date(2028, 3, 15), date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_the_last_complete_month_is_the_calendar_month_before(now, first, last):
    assert last_complete_month(now) == (first, last)
