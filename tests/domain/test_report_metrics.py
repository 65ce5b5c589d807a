"""The report's figures on a small hand-built program whose answers are worked out here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from domain.report.metrics import AskRow, DealRow, ReferralRow, RewardRow, Target, program_report


def at(m: int, d: int) -> datetime:
    return datetime(2026, m, d, 9, tzinfo=UTC)


ASKS = [
    AskRow("Casey", at(1, 5), intro=True),
    AskRow("Casey", at(1, 6), intro=False),
    AskRow("Casey", at(2, 2), intro=True),
    AskRow("Robin", at(1, 9), intro=False),
]
REFERRALS = [
    # January: two eligible with deals (one reached opportunity and was won), one duplicate.
    ReferralRow(at(1, 10), True, (), "Ana", "Northwind", True, True, Decimal("20000")),
    ReferralRow(at(1, 12), True, (), "Ana", "Northwind", True, False, None),
    ReferralRow(at(1, 13), False, ("duplicate_company",), "Ben", "Contoso", False, False, None),
    # February: one self-referral.
    ReferralRow(at(2, 3), False, ("self_referral_domain",), "Ben", "Contoso", False, False, None),
]
DEALS = [
    # Referral deals: one won in February after 31 days, one still open.
    DealRow(True, "Rae", "Northwind", Decimal("20000"), at(1, 10), at(2, 10), True, False),
    DealRow(True, "Rae", "Northwind", Decimal("5000"), at(1, 12), None, False, False),
    # Other channels: one won in February after 10 days, one lost in February.
    DealRow(False, "Sam", None, Decimal("10000"), at(1, 31), at(2, 10), True, False),
    DealRow(False, "Sam", None, Decimal("15000"), at(1, 20), at(2, 12), False, True),
]
REWARDS = [
    RewardRow("released", Decimal("500")),
    RewardRow("holding", Decimal("500")),
    RewardRow("released", Decimal("250.50")),
]


def report():
    return program_report(ASKS, REFERRALS, DEALS, REWARDS, 0.3, date(2026, 1, 1), date(2026, 2, 28))


def test_asks_intros_and_leads_by_month_and_in_total():
    r = report()
    jan, feb, total = r["months"]["2026-01"], r["months"]["2026-02"], r["total"]
    assert (jan["asks_sent"], jan["intros"], jan["positive_response_rate"]) == (3, 1, 0.3333)
    assert jan["asks_sent_per_csm"] == {"Casey": 2, "Robin": 1}
    assert (feb["asks_sent"], feb["intros"], feb["positive_response_rate"]) == (1, 1, 1.0)
    assert (total["asks_sent"], total["intros"], total["positive_response_rate"]) == (4, 2, 0.5)
    assert (jan["referred_leads"], jan["eligible_leads"]) == (3, 2)
    assert jan["referral_to_opportunity_rate"] == 0.5  # 1 of the 2 eligible with a deal
    assert feb["referral_to_opportunity_rate"] is None  # no eligible referral in February


def test_close_rate_cycle_and_size_referral_against_other_channels():
    feb = report()["months"]["2026-02"]
    assert feb["referral"] == {
        "won": 1,
        "lost": 0,
        "close_rate": 1.0,
        "median_cycle_days": 31.0,
        "average_deal_size": 20000.0,
    }
    assert feb["other"] == {
        "won": 1,
        "lost": 1,
        "close_rate": 0.5,
        "median_cycle_days": 10.0,
        "average_deal_size": 10000.0,
    }


def test_pipeline_share_against_the_target():
    jan = report()["months"]["2026-01"]["pipeline_share"]
    # January created all four deals: 25,000 of 50,000 from referrals, 2 of 4 deals.
    assert jan == {
        "deals": 4,
        "referral_deals": 2,
        "amount": 50000.0,
        "referral_amount": 25000.0,
        "share_of_amount": 0.5,
        "share_of_count": 0.5,
        "target": 0.3,
        "on_target": True,
    }


def test_leaderboards_pipeline_by_account_and_rep_rewards_and_reasons():
    r = report()
    assert r["pipeline_per_referring_account"] == {"Northwind": 25000.0}
    assert r["pipeline_per_rep"] == {"Rae": 25000.0}
    assert r["top_referrers"] == [
        {"referrer": "Ana", "eligible_referrals": 2, "won_amount": 20000.0}
    ]
    assert [c["csm"] for c in r["top_csms"]] == ["Casey", "Robin"]
    assert r["top_csms"][0] == {
        "csm": "Casey",
        "asks_sent": 3,
        "intros": 2,
        "positive_response_rate": 0.6667,
    }
    assert r["rewards_by_state"] == {
        "holding": {"count": 1, "amount": 500.0},
        "released": {"count": 2, "amount": 750.5},
    }
    assert r["decisions_by_reason"] == {"duplicate_company": 1, "self_referral_domain": 1}


def test_only_what_happened_in_the_period_counts():
    r = program_report(ASKS, REFERRALS, DEALS, REWARDS, 0.3, date(2026, 2, 1), date(2026, 2, 28))
    assert list(r["months"]) == ["2026-02"]
    assert (r["total"]["asks_sent"], r["total"]["referred_leads"]) == (1, 1)
    # Deals created in January and closed in February count as closed in February, with
    # their whole cycle; none was created in February.
    assert r["total"]["referral"]["median_cycle_days"] == 31.0
    assert r["total"]["pipeline_share"]["deals"] == 0


def test_the_funnel_from_asks_to_won_deals():
    assert report()["total"]["funnel"] == {
        "asks_sent": 4,
        "intros": 2,
        "referred_leads": 4,
        "eligible_leads": 2,
        "opportunities": 1,
        "won": 1,
    }


def test_progress_against_each_roles_targets():
    asks = [
        AskRow("Casey", at(2, 2), intro=True, role="csm"),
        AskRow("Casey", at(2, 9), intro=False, role="csm"),
        AskRow("Casey", at(1, 9), intro=True, role="csm"),  # same quarter, other month
        AskRow("Robin", at(2, 3), intro=False, role="rep"),
        AskRow("Sam", at(2, 3), intro=False, role=None),  # no role: no target
    ]
    targets = {"csm": Target(asks_per_month=4, intros_per_quarter=3), "rep": Target(2, None)}
    r = program_report(asks, [], [], [], 0.3, date(2026, 1, 1), date(2026, 2, 28), targets)[
        "targets"
    ]
    assert (r["month"], r["quarter"]) == ("2026-02", "2026-Q1")
    assert r["people"] == [
        {
            "who": "Casey",
            "role": "csm",
            "asks_this_month": 2,
            "asks_target": 4,
            "asks_progress": 0.5,
            "intros_this_quarter": 2,
            "intros_target": 3,
            "intros_progress": 0.6667,
        },
        {
            "who": "Robin",
            "role": "rep",
            "asks_this_month": 1,
            "asks_target": 2,
            "asks_progress": 0.5,
            "intros_this_quarter": 0,
            "intros_target": None,
            "intros_progress": None,
        },
    ]
