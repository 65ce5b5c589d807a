"""The report read from the database: a referral won through the sandbox CRM shows up as a
lead, an eligible referral, a won referral deal in the pipeline share, its referrer on the
leaderboard (by name in the files, by id for Prefect) and its reward by state."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.program import load_preset
from tasks.report import build_report, write_report
from tests.tasks.reward_world import DAY, DUE, NOW, PAID, RewardWorld

SAAS = load_preset("saas")


def test_a_won_referral_is_counted_everywhere_it_belongs(factory, tmp_path):
    rw = RewardWorld(factory, tmp_path, SAAS)
    ana = rw.referrer()
    referral = rw.intro(ana)
    rw.push()
    rw.win(referral, amount=Decimal("12000"))
    rw.release(PAID + DAY)
    rw.release(DUE)

    start, end = date(2026, 1, 1), date(2026, 12, 31)
    named = build_report(factory, SAAS, start, end, names=True)
    total = named["total"]
    assert (total["referred_leads"], total["eligible_leads"]) == (1, 1)
    assert total["referral"]["won"] == 1 and total["referral"]["close_rate"] == 1.0
    assert total["pipeline_share"]["referral_deals"] == 1
    assert named["months"][f"{NOW.year}-{NOW.month:02d}"]["referred_leads"] == 1
    [top] = named["top_referrers"]
    assert top["won_amount"] == 12000.0 and not top["referrer"].startswith("person:")
    assert named["rewards_by_state"] == {"released": {"count": 1, "amount": 500.0}}

    by_id = build_report(factory, SAAS, start, end, names=False)
    assert by_id["top_referrers"][0]["referrer"] == f"person:{ana.person_id}"
    assert all(name.startswith(("team_member:", "(")) for name in by_id["pipeline_per_rep"])

    written = write_report(named, SAAS, tmp_path / "reports")
    assert written.json.exists() and "## Top referrers" in written.markdown.read_text()


def test_a_period_with_nothing_in_it_reports_zeros_not_errors(factory):
    empty = build_report(factory, SAAS, date(2020, 1, 1), date(2020, 1, 31), names=True)
    assert empty["months"] == {}
    assert empty["total"]["asks_sent"] == 0
    assert empty["total"]["positive_response_rate"] is None
