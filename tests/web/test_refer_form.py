"""The generic form where a referral code is typed by hand (channel ``code``)."""

from __future__ import annotations

import pytest
from markupsafe import escape

from domain.statuses import ReferralChannel
from tests.web.conftest import MakeSite, Site
from tests.web.site import VALID, csrf_token, submit

CHECK_THE_CODE = "Referral code was not recognised: check the code and try again"


def test_a_typed_code_creates_a_code_referral(site: Site) -> None:
    typed = f" {site.code[:5].lower()}-{site.code[5:]} "  # as people type it
    answer = submit(site.client, "/refer", {**VALID, "code": typed})
    assert answer.status_code == 303 and answer.headers["location"] == "/thanks"
    [referral] = site.stored.referrals()
    assert referral.channel == ReferralChannel.CODE
    assert referral.code == site.code


def test_a_code_in_the_address_is_put_in_the_field(site: Site) -> None:
    page = site.client.get(f"/refer?code={site.code}")
    assert f'value="{site.code}"' in page.text


@pytest.mark.parametrize("code", ["", "nope", "0" * 13, "<b>0000000000000</b>"])
def test_unknown_malformed_or_missing_codes_read_the_same(site: Site, code: str) -> None:
    answer = submit(site.client, "/refer", {**VALID, "code": code})
    assert answer.status_code == 422
    assert CHECK_THE_CODE in answer.text
    assert str(escape(code)) in answer.text  # kept as typed, escaped
    assert escape(VALID["company"]) in answer.text
    assert site.stored.referrals() == []


def test_code_and_field_errors_are_shown_together(site: Site) -> None:
    answer = submit(site.client, "/refer", {"code": "0" * 13, "email": "nope"})
    assert CHECK_THE_CODE in answer.text
    assert "Work email is not an email address" in answer.text
    assert "Company is required" in answer.text


def test_honeypot_on_the_code_form(site: Site) -> None:
    answer = submit(site.client, "/refer", {**VALID, "code": site.code, "website": "x"})
    assert answer.headers["location"] == "/thanks"
    assert site.stored.referrals() == []


def test_a_disclosure_is_shown_before_the_referral_is_taken(make_site: MakeSite) -> None:
    site = make_site(preset="financial")
    first = submit(site.client, "/refer", {**VALID, "code": site.code})
    assert first.status_code == 200
    assert 'id="disclosure"' in first.text and "read the note below" in first.text
    assert site.stored.referrals() == []
    ack = first.text.split('name="disclosure_ack" value="')[1].split('"')[0]
    second = site.client.post(
        "/refer",
        data={
            **VALID,
            "code": site.code,
            "csrf_token": csrf_token(first.text),
            "disclosure_ack": ack,
        },
    )
    assert second.status_code == 303
    [referral] = site.stored.referrals()
    assert referral.channel == ReferralChannel.CODE
    assert referral.attribution["disclosure_shown"] == "yes"
