"""Company domains and registrable domains, as the referral rules compare them."""

from __future__ import annotations

import pytest

from domain.referrals.domains import company_domain, registrable_domain, registrable_set


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("acme.io", "acme.io", id="bare"),
        pytest.param("ACME.io", "acme.io", id="upper-case"),
        pytest.param("www.Acme.io", "acme.io", id="www"),
        pytest.param("  acme.io. ", "acme.io", id="spaces-and-trailing-dot"),
        pytest.param("Jane.Doe@Acme.io", "acme.io", id="email"),
        pytest.param("mailto:jane@acme.io", "acme.io", id="mailto"),
        pytest.param("jane@eu.acme.co.uk", "eu.acme.co.uk", id="email-subdomain-kept"),
        pytest.param("https://www.acme.io/about?x=1#top", "acme.io", id="url"),
        pytest.param("http://acme.io:8080", "acme.io", id="url-with-port"),
        pytest.param("bücher.de", "xn--bcher-kva.de", id="idna"),
        pytest.param("xn--bcher-kva.de", "xn--bcher-kva.de", id="already-ascii"),
        pytest.param("acme\u200b.io", "acme.io", id="zero-width-space"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
        pytest.param("localhost", None, id="no-dot"),
        pytest.param("jane@", None, id="half-email"),
        pytest.param("not a domain", None, id="words"),
        pytest.param("-acme.io", None, id="leading-hyphen"),
        pytest.param("a" * 64 + ".io", None, id="label-too-long"),
    ],
)
def test_company_domain(value: object, expected: str | None) -> None:
    assert company_domain(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("acme.io", "acme.io", id="already-registrable"),
        pytest.param("www.Acme.io", "acme.io", id="www-and-case"),
        pytest.param("eu.app.acme.co.uk", "acme.co.uk", id="two-label-suffix"),
        pytest.param("acme.co.uk", "acme.co.uk", id="two-label-suffix-bare"),
        pytest.param("jane@eu.acme.io", "acme.io", id="email"),
        pytest.param("https://shop.acme.com.au/x", "acme.com.au", id="url"),
        pytest.param("bücher.de", "xn--bcher-kva.de", id="idna"),
        pytest.param("a.acme.github.io", "acme.github.io", id="private-suffix"),
        pytest.param("co.uk", None, id="public-suffix-only"),
        pytest.param("github.io", None, id="private-suffix-only"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_registrable_domain(value: object, expected: str | None) -> None:
    assert registrable_domain(value) == expected


def test_subdomains_and_spellings_of_one_company_share_a_registrable_domain() -> None:
    spellings = ["acme.io", "www.Acme.io", "eu.acme.io", "https://app.acme.io/", "Bo@ACME.IO"]
    assert {registrable_domain(s) for s in spellings} == {"acme.io"}


def test_registrable_set_drops_entries_that_are_no_domain() -> None:
    assert registrable_set(("www.Rival.com", "eu.other.co.uk", "co.uk", "not a domain")) == {
        "rival.com",
        "other.co.uk",
    }
