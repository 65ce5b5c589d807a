"""CRM records are untrusted: strict mapping, clear rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.crm_records import Rejection, map_company, map_contact, map_deal, parse_time
from domain.stages import DEFAULT_STAGE_MAP, ProgramStage
from domain.text import clean_text, normalise_domain, normalise_email

T = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com/about?x=1", "acme.com"),
        ("ACME.co.uk", "acme.co.uk"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("not a domain", None),
        ("", None),
        ("http://", None),
    ],
)
def test_domains_are_normalised(raw, expected):
    assert normalise_domain(raw) == expected


def test_text_loses_control_and_invisible_characters_but_keeps_letters():
    assert clean_text("Zoë\u200b \x00Ltd\n\t ✓") == "Zoë Ltd ✓"
    assert normalise_email(" Ana.Lima@Client.EXAMPLE ") == "ana.lima@client.example"
    assert normalise_email("ana@") is None


def test_times_in_either_crm_format():
    assert parse_time("2026-03-02T09:00:00.000Z") == T
    assert parse_time(str(int(T.timestamp() * 1000))) == T
    assert parse_time("yesterday") is None


def test_company_without_name_or_with_bad_domain_is_rejected():
    assert map_company("1", {"domain": "a.com"}, T) == Rejection("company", "1", "name is missing")
    bad = map_company("2", {"name": "X", "domain": "no spaces allowed"}, T)
    assert isinstance(bad, Rejection) and "domain" in bad.reason
    good = map_company(
        "3",
        {
            "name": "  Acme\u200b Inc ",
            "domain": "www.acme.com",
            "health_score": "72",
            "renewal_date": "2026-09-30",
        },
        T,
    )
    assert not isinstance(good, Rejection)
    assert (good.name, good.domain, good.health_score, good.renewal_date.isoformat()) == (
        "Acme Inc",
        "acme.com",
        72,
        "2026-09-30",
    )


def test_contact_with_a_bad_email_is_rejected_and_seniority_comes_from_the_title():
    bad = map_contact("9", {"email": "nobody at all"}, T, None, lambda t: None)
    assert bad == Rejection("contact", "9", "email 'nobody at all' is not valid")
    good = map_contact(
        "10",
        {"email": "CFO@Acme.com", "jobtitle": "Chief Financial Officer", "hs_email_optout": "true"},
        T,
        "3",
        lambda t: "c_level",
    )
    assert not isinstance(good, Rejection)
    assert (good.email, good.seniority, good.opted_out, good.company_crm_id) == (
        "cfo@acme.com",
        "c_level",
        True,
        "3",
    )


def test_deal_with_an_unknown_stage_is_rejected():
    result = map_deal("5", {"dealstage": "mystery"}, T, None, DEFAULT_STAGE_MAP, "USD")
    assert result == Rejection("deal", "5", "stage id 'mystery' is not in the stage map")
    missing = map_deal("6", {}, T, None, DEFAULT_STAGE_MAP, "USD")
    assert missing == Rejection("deal", "6", "dealstage is missing")


def test_deal_stage_entries_come_from_the_stage_entry_timestamps_in_order():
    props = {
        "dealstage": "presentationscheduled",
        "amount": "12,500.5",
        "hs_v2_date_entered_qualifiedtobuy": "2026-02-01T10:00:00Z",
        "hs_date_entered_appointmentscheduled": "2026-02-03T10:00:00Z",  # legacy name
        "hs_v2_date_entered_presentationscheduled": "2026-02-10T10:00:00Z",
        "referral_program_id": "ref-1",
    }
    deal = map_deal("7", props, T, "3", DEFAULT_STAGE_MAP, "USD")
    assert not isinstance(deal, Rejection)
    assert [s for s, _ in deal.stage_entries] == [
        "qualifiedtobuy",
        "appointmentscheduled",
        "presentationscheduled",
    ]
    assert deal.program_stage is ProgramStage.OPPORTUNITY
    assert deal.amount == Decimal("12500.50")
    assert (deal.source_channel, deal.referral_key, deal.closed_at) == (
        "client_referral",
        "ref-1",
        None,
    )


def test_closed_deals_get_a_close_date_and_other_channels_keep_their_source():
    deal = map_deal(
        "8",
        {
            "dealstage": "closedwon",
            "closedate": "2026-02-20T00:00:00Z",
            "hs_analytics_source": "ORGANIC_SEARCH",
        },
        T,
        None,
        DEFAULT_STAGE_MAP,
        "USD",
    )
    assert not isinstance(deal, Rejection)
    assert deal.closed_at == datetime(2026, 2, 20, tzinfo=UTC)
    assert deal.source_channel == "organic_search"
    assert map_deal(
        "9", {"dealstage": "closedwon", "amount": "lots"}, T, None, DEFAULT_STAGE_MAP, "USD"
    ) == Rejection("deal", "9", "amount 'lots' is not a number")
