"""The referral link's landing page over HTTP: who referred, the form, what a post stores."""

from __future__ import annotations

import pytest
from markupsafe import escape

from domain.statuses import Eligibility, ReferralChannel
from tests.web.conftest import MakeSite, Site
from tests.web.site import VALID, add_referrer, csrf_token, submit


def test_page_names_the_referrer_by_first_name_and_company_never_email(site: Site) -> None:
    page = site.client.get(f"/r/{site.code}")
    assert page.status_code == 200
    assert "Ana from Acme Corp" in page.text
    assert "acmecorp.example" not in page.text and "Lima" not in page.text
    assert 'name="website"' in page.text  # the honeypot
    assert "referrals_csrf=" in page.headers["set-cookie"]
    assert page.headers["cache-control"] == "no-store"


def test_disclosure_is_shown_where_the_program_sets_one(make_site: MakeSite) -> None:
    with_disclosure = make_site(preset="financial")
    page = with_disclosure.client.get(f"/r/{with_disclosure.code}")
    assert 'id="disclosure"' in page.text
    assert "non-cash reward" in page.text
    without = make_site(preset="saas")
    assert 'id="disclosure"' not in without.client.get(f"/r/{without.code}").text


def test_valid_submission_creates_a_link_referral_with_attribution(site: Site) -> None:
    answer = submit(
        site.client, f"/r/{site.code}?utm_source=newsletter&utm_campaign=q1&email=x@y.z", VALID
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/thanks"
    [referral] = site.stored.referrals()
    assert referral.channel == ReferralChannel.LINK
    assert referral.code == site.code
    assert referral.eligibility == Eligibility.PENDING
    assert (referral.referred_email, referral.referred_domain) == (
        "bea.ng@prospect.example",
        "prospect.example",
    )
    assert (referral.referred_first_name, referral.referred_last_name) == ("Bea", "Ng")
    assert referral.referred_company_name == "Prospect Ltd"
    assert referral.referred_title == "CFO"
    attribution = dict(referral.attribution)
    ip_hash = attribution.pop("ip_hash")
    assert attribution == {"utm_source": "newsletter", "utm_campaign": "q1"}  # no stray keys
    assert len(ip_hash) == 24 and "192.0.2.1" not in str(referral.attribution)
    thanks = site.client.get("/thanks")
    assert thanks.status_code == 200 and "Thank you" in thanks.text


def test_qr_source_gives_channel_qr(site: Site) -> None:
    page = site.client.get(f"/r/{site.code}?src=qr")
    assert f'action="/r/{site.code}?src=qr"' in page.text  # the post keeps the source
    submit(site.client, f"/r/{site.code}?src=qr", VALID)
    [referral] = site.stored.referrals()
    assert referral.channel == ReferralChannel.QR
    assert referral.attribution["src"] == "qr"


def test_code_in_the_link_is_read_as_people_type_it(site: Site) -> None:
    typed = site.code.lower()
    assert site.client.get(f"/r/{typed}").status_code == 200
    submit(site.client, f"/r/{typed}", VALID)
    assert [r.code for r in site.stored.referrals()] == [site.code]


def test_sending_the_same_intro_twice_stores_one_referral(site: Site) -> None:
    submit(site.client, f"/r/{site.code}", VALID)
    submit(site.client, f"/r/{site.code}", {**VALID, "note": "again"})
    assert len(site.stored.referrals()) == 1


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        ({"email": "", "company": ""}, ["Work email is required", "Company is required"]),
        ({"email": "not-an-address"}, ["Work email is not an email address"]),
        ({"name": "N" * 201}, ["Your name is longer than 200 characters"]),
        ({"role": "R" * 201}, ["Role is longer than 200 characters"]),
        ({"company": "C" * 301}, ["Company is longer than 300 characters"]),
        ({"note": "x" * 2001}, ["Anything we should know? is longer than 2000 characters"]),
    ],
)
def test_invalid_fields_get_a_message_each_and_keep_what_was_typed(
    site: Site, fields: dict[str, str], messages: list[str]
) -> None:
    typed = {**VALID, **fields}
    answer = submit(site.client, f"/r/{site.code}", typed)
    assert answer.status_code == 422
    for message in messages:
        assert escape(message) in answer.text
    for name, value in typed.items():
        if value and len(value) <= 300:
            assert escape(value) in answer.text, name
    assert 'aria-invalid="true"' in answer.text
    assert site.stored.referrals() == []


def test_html_in_every_field_is_shown_back_escaped(site: Site) -> None:
    attack = {
        name: f'"><script>alert("{name}")</script><img src=x onerror=alert(1)>'
        for name in ("name", "email", "company", "role", "note")
    }
    answer = submit(site.client, f"/r/{site.code}", attack)
    assert answer.status_code == 422  # the email is not an address
    assert "<script>" not in answer.text and "<img" not in answer.text
    for name, value in attack.items():
        assert escape(value) in answer.text, name


def test_html_in_the_referrers_own_names_is_escaped(make_site: MakeSite) -> None:
    site = make_site()
    code = add_referrer(
        site.factory,
        site.clock.now(),
        first_name="<b>Eve</b>",
        company="<script>x()</script>",
        email="eve@evil.example",
    )
    page = site.client.get(f"/r/{code}")
    assert "<script>x()" not in page.text and "<b>Eve" not in page.text
    assert "&lt;b&gt;Eve&lt;/b&gt;" in page.text


def test_honeypot_answers_thanks_and_stores_nothing(site: Site) -> None:
    answer = submit(site.client, f"/r/{site.code}", {**VALID, "website": "http://spam.example"})
    assert answer.status_code == 303 and answer.headers["location"] == "/thanks"
    assert site.stored.referrals() == []


def test_unknown_codes_get_one_page_whether_or_not_they_could_exist(site: Site) -> None:
    never_a_code = site.client.get("/r/not-a-code-at-all")
    well_formed = site.client.get("/r/" + "0" * 13)
    assert never_a_code.status_code == well_formed.status_code == 404
    assert never_a_code.text == well_formed.text
    assert "not active" in never_a_code.text
    assert "set-cookie" not in never_a_code.headers and "set-cookie" not in well_formed.headers


def test_a_post_to_an_unknown_code_stores_nothing_and_reads_the_same(site: Site) -> None:
    token_page = site.client.get(f"/r/{site.code}")
    token = csrf_token(token_page.text)
    answers = [
        site.client.post(path, data={"csrf_token": token, **VALID})
        for path in ("/r/not-a-code", "/r/" + "0" * 13)
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].text == answers[1].text == site.client.get("/r/zzz").text
    assert site.stored.referrals() == []
