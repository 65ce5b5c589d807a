"""report.html: one self-contained page with its three charts, and what people typed shown
escaped."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from domain.report.metrics import program_report
from tasks.report_html import report_html
from tests.domain.test_report_metrics import ASKS, DEALS, REFERRALS, REWARDS


def test_the_page_holds_its_charts_inline_and_escapes_names():
    referrals = [replace(REFERRALS[0], referrer="<script>alert(1)</script>"), *REFERRALS[1:]]
    report = program_report(
        ASKS, referrals, DEALS, REWARDS, 0.3, date(2026, 1, 1), date(2026, 2, 28)
    )
    page = report_html(report, "Program & <friends>")
    assert page.count("<svg") == 3
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Program &amp; &lt;friends&gt;" in page
    # Nothing to fetch: no scripts, stylesheets or images from elsewhere (only namespaces).
    assert "<script" not in page and "<link" not in page and " src=" not in page
    assert 'href="http' not in page
