"""What an intro must hold (form, file, command line), and which feedback email a stage calls
for. Pure."""

from __future__ import annotations

import pytest

from domain.referrals.feedback import feedback_due
from domain.referrals.intake import parse_referral_row, validate_intake
from domain.stages import ProgramStage as S


def test_a_full_intake_is_cleaned_and_its_domain_comes_from_the_email():
    intake, errors = validate_intake(
        {
            "name": "  Maria   de la Cruz ",
            "email": " Maria@Acme.IO ",
            "company": "Acme\u200b Ltd",
            "role": "CFO",
            "note": "Met at the summit",
        }
    )
    assert errors == {}
    assert intake.contact_email == "maria@acme.io" and intake.domain == "acme.io"
    assert (intake.first_name, intake.last_name) == ("Maria", "de la Cruz")
    assert intake.company == "Acme Ltd"


def test_a_given_domain_wins_over_the_email_and_is_normalised():
    intake, _ = validate_intake(
        {"company": "Acme", "email": "maria@gmail.com", "domain": "https://WWW.Acme.io/about"}
    )
    assert intake.domain == "acme.io"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, {"company": "is required", "email": "is required"}),
        ({"company": "A", "email": "not-an-email"}, {"email": "is not an email address"}),
        (
            {"company": "A", "email": "a@b.io", "domain": "not a domain"},
            {"domain": "is not a domain name (such as acme.com)"},
        ),
        (
            {"company": "A", "email": "a@b.io", "note": "x" * 2001},
            {"note": "is longer than 2000 characters"},
        ),
        ({"company": "A", "email": "a@b.io", "name": "a\x00b"}, {"name": "holds a NUL character"}),
        ({"company": ["A"], "email": "a@b.io"}, {"company": "must be text"}),
        ({"company": True, "email": "a@b.io"}, {"company": "must be text"}),
    ],
)
def test_each_problem_is_reported_against_its_field(raw, expected):
    intake, errors = validate_intake(raw)
    assert intake is None and errors == expected


def test_email_may_be_optional_for_a_person_who_records_an_intro():
    intake, errors = validate_intake({"company": "Acme", "domain": "acme.io"}, email_required=False)
    assert errors == {} and intake.contact_email is None and intake.domain == "acme.io"


def test_a_referrals_file_row_names_every_bad_field():
    row, errors = parse_referral_row(
        {
            "referrer_email": "nobody",
            "company": "",
            "contact_email": "x",
            "channel": "carrier pigeon",
            "ask_id": "seven",
            "colour": "blue",
        }
    )
    assert row is None
    assert errors == [
        "field 'colour': unknown column",
        "field 'referrer_email': is missing or not an email address",
        "field 'company': is required",
        "field 'contact_email': is not an email address",
        "field 'channel': must be one of sales_assisted, email_intro",
        "field 'ask_id': must be a whole number (an ask's id)",
    ]


def test_a_good_row_defaults_to_sales_assisted():
    row, errors = parse_referral_row(
        {
            "referrer_email": "Ana@Client.example",
            "company": "Acme",
            "domain": "acme.io",
            "ask_id": "12",
        }
    )
    assert errors == []
    assert (row.referrer_email, row.channel, row.ask_id) == (
        "ana@client.example",
        "sales_assisted",
        12,
    )
    assert row.intake.domain == "acme.io"


@pytest.mark.parametrize(
    ("stage", "intro", "sent", "due"),
    [
        (S.SALES_ACCEPTED, S.SALES_ACCEPTED, [], None),  # the deal we created: not contacted yet
        (S.DISCOVERY, S.SALES_ACCEPTED, [], "intro_contacted"),
        (S.LEAD_CAPTURED, S.INTRODUCTION, [], "intro_contacted"),
        (S.OPPORTUNITY, S.SALES_ACCEPTED, ["intro_contacted"], "intro_progressed"),
        (S.DISCOVERY, S.SALES_ACCEPTED, ["intro_progressed"], None),  # a step back: nothing
        (S.PROPOSAL, S.SALES_ACCEPTED, ["intro_progressed"], None),  # same step: once
        (S.CLOSED_WON, S.SALES_ACCEPTED, ["intro_contacted"], "thanks_closed_won"),
        (S.CLOSED_LOST, S.SALES_ACCEPTED, [], "thanks_closed_lost"),
        (S.CLOSED_LOST, S.SALES_ACCEPTED, ["thanks_closed_won"], None),  # one final word
        (S.FIRST_PAYMENT, S.SALES_ACCEPTED, ["thanks_closed_won"], None),
    ],
)
def test_feedback_is_one_email_per_step_never_a_step_back(stage, intro, sent, due):
    assert feedback_due(stage, intro, sent) == due
