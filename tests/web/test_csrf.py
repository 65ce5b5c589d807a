"""Every form post needs the token of the page it came from, tied to the visitor's cookie."""

from __future__ import annotations

import pytest

from tests.web.conftest import Site
from tests.web.site import VALID, csrf_token


@pytest.mark.parametrize("path", ["/r/{code}", "/refer"])
def test_a_post_without_a_token_is_refused_and_stores_nothing(site: Site, path: str) -> None:
    url = path.format(code=site.code)
    site.client.get(url)  # has the cookie, not the token
    answer = site.client.post(url, data={**VALID, "code": site.code})
    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert site.stored.referrals() == []
    assert site.stored.counters() == []  # not even a rate-limit hit


def test_a_forged_token_is_refused(site: Site) -> None:
    page = site.client.get(f"/r/{site.code}")
    token = csrf_token(page.text)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    answer = site.client.post(f"/r/{site.code}", data={**VALID, "csrf_token": forged})
    assert answer.status_code == 403
    assert site.stored.referrals() == []


def test_a_token_without_its_cookie_is_refused(site: Site) -> None:
    """What a cross-site post looks like: the attacker has a token, not the victim's cookie."""
    token = csrf_token(site.client.get(f"/r/{site.code}").text)
    site.client.cookies.clear()
    answer = site.client.post(f"/r/{site.code}", data={**VALID, "csrf_token": token})
    assert answer.status_code == 403
    assert site.stored.referrals() == []


def test_a_token_made_for_another_visitors_cookie_is_refused(site: Site) -> None:
    other = site.other_client("198.51.100.7")
    theirs = csrf_token(other.get(f"/r/{site.code}").text)
    site.client.get(f"/r/{site.code}")  # our own cookie
    answer = site.client.post(f"/r/{site.code}", data={**VALID, "csrf_token": theirs})
    assert answer.status_code == 403
    assert site.stored.referrals() == []


def test_a_stale_token_is_refused(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    token = csrf_token(site.client.get(f"/r/{site.code}").text)
    monkeypatch.setattr("web.csrf.MAX_AGE_SECONDS", -1)  # every token is now too old
    answer = site.client.post(f"/r/{site.code}", data={**VALID, "csrf_token": token})
    assert answer.status_code == 403


def test_the_cookie_is_secure_and_host_only_behind_https(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site(REFERRALS_PUBLIC_URL="https://refer.example.com")
    cookie = site.client.get(f"/r/{site.code}").headers["set-cookie"]
    assert cookie.startswith("__Host-referrals_csrf=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
