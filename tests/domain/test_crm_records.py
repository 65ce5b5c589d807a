"""CRM records are untrusted: strict mapping, clear rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.crm_records import (
    DealMapping,
    Rejection,
    map_company,
    map_contact,
    map_deal,
    parse_time,
)
from domain.stages import DEFAULT_MILESTONES, DEFAULT_STAGE_MAP, ProgramStage
from domain.text import clean_text, normalise_domain, normalise_email

T = datetime(2026, 3, 2, 9, tzinfo=UTC)
MAPPING = DealMapping(
    "default",
    DEFAULT_STAGE_MAP,
    DEFAULT_MILESTONES,
    closed_stage_ids=frozenset({"closedwon", "closedlost", "renewed"}),
)


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
    assert parse_time("0001-01-01T00:00:00+01:00") is None  # out of range, not a crash
    assert parse_time("99999999999999999999") is None


def test_company_without_name_or_with_bad_domain_is_rejected():
    assert map_company("1", {"domain": "a.com"}, T) == Rejection(
        "company", "1", "name is missing", "name"
    )
    bad = map_company("2", {"name": "X", "domain": "no spaces allowed"}, T)
    assert bad == Rejection("company", "2", "domain is not a valid domain name", "domain")
    for health in ("Infinity", "NaN", "1e30", "101", "-1", "7.5", "lots"):
        odd = map_company("4", {"name": "X", "health_score": health}, T)
        assert isinstance(odd, Rejection) and odd.field == "health_score", health
        assert health not in odd.reason
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
    assert bad == Rejection("contact", "9", "email is not a valid address", "email")
    many = map_contact("11", {"email": "a@b.example", "linkedin_followers": "1e30"}, T, None, str)
    assert isinstance(many, Rejection) and many.field == "linkedin_followers"
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


def test_a_deal_in_an_unknown_stage_or_another_pipeline_is_kept_without_a_program_stage():
    unknown = map_deal("5", {"dealstage": "mystery"}, T, None, MAPPING, "USD")
    assert not isinstance(unknown, Rejection)
    assert (unknown.crm_stage_id, unknown.program_stage) == ("mystery", None)
    other = map_deal(
        "6", {"dealstage": "closedwon", "pipeline": "renewals"}, T, None, MAPPING, "USD"
    )
    assert not isinstance(other, Rejection)
    assert (other.pipeline_id, other.program_stage) == ("renewals", None)
    renewed = map_deal(
        "7", {"dealstage": "renewed", "pipeline": "renewals"}, T, None, MAPPING, "USD"
    )
    assert not isinstance(renewed, Rejection) and renewed.closed_at == T  # closed per the CRM
    missing = map_deal("8", {}, T, None, MAPPING, "USD")
    assert missing == Rejection("deal", "8", "dealstage is missing", "dealstage")


def test_an_unreadable_stage_entry_time_is_left_out_and_named_and_the_deal_kept():
    props = {
        "dealstage": "contractsent",
        "hs_v2_date_entered_contractsent": "2026-02-01T00:00:00Z",
        "hs_date_entered_contractsent": "0001-01-01T00:00:00+01:00",  # v2 wins: not read
        "hs_v2_date_entered_closedwon": "0001-01-01T00:00:00+01:00",
    }
    deal = map_deal("9", props, T, None, MAPPING, "USD")
    assert not isinstance(deal, Rejection)
    assert deal.ignored == ("hs_v2_date_entered_closedwon",)
    assert deal.stage_entries == (("contractsent", datetime(2026, 2, 1, tzinfo=UTC)),)
    bad_milestone = map_deal("10", {**props, "first_payment_date": "soon"}, T, None, MAPPING, "USD")
    assert bad_milestone == Rejection(
        "deal", "10", "first_payment_date is not a date and time", "first_payment_date"
    )


def test_a_won_deal_reaches_its_milestones_and_an_open_one_does_not():
    props = {
        "dealstage": "closedwon",
        "onboarding_started_date": "2026-02-03T00:00:00Z",
        "first_payment_date": "2026-02-20T00:00:00Z",
    }
    won = map_deal("10", props, T, None, MAPPING, "USD")
    assert not isinstance(won, Rejection) and won.program_stage is ProgramStage.FIRST_PAYMENT
    assert ("property:first_payment_date", datetime(2026, 2, 20, tzinfo=UTC)) in won.stage_entries
    still_open = map_deal("11", {**props, "dealstage": "contractsent"}, T, None, MAPPING, "USD")
    assert not isinstance(still_open, Rejection)
    assert still_open.program_stage is ProgramStage.PROPOSAL


def test_deal_stage_entries_come_from_the_stage_entry_timestamps_in_order():
    props = {
        "dealstage": "presentationscheduled",
        "amount": "12,500.5",
        "hs_v2_date_entered_appointmentscheduled": "2026-02-01T10:00:00Z",
        "hs_date_entered_qualifiedtobuy": "2026-02-03T10:00:00Z",  # legacy name
        "hs_v2_date_entered_presentationscheduled": "2026-02-10T10:00:00Z",
        "referral_program_id": "ref-1",
    }
    deal = map_deal("7", props, T, "3", MAPPING, "USD")
    assert not isinstance(deal, Rejection)
    assert [s for s, _ in deal.stage_entries] == [
        "appointmentscheduled",
        "qualifiedtobuy",
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
        MAPPING,
        "USD",
    )
    assert not isinstance(deal, Rejection)
    assert deal.closed_at == datetime(2026, 2, 20, tzinfo=UTC)
    assert deal.source_channel == "organic_search"
    assert map_deal(
        "9", {"dealstage": "closedwon", "amount": "lots"}, T, None, MAPPING, "USD"
    ) == Rejection("deal", "9", "amount is not a number", "amount")
