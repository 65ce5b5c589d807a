"""One-click unsubscribe (RFC 8058) from the signed link in every referrer email."""

from __future__ import annotations

import logging

import pytest

from core.signing import sign, unsubscribe_url
from tests.web.conftest import Site

EMAIL = "Ana.Lima@AcmeCorp.example"


def _path(site: Site, email: str = EMAIL) -> str:
    return unsubscribe_url(site.settings, email).removeprefix(site.settings.public_url)


def test_get_shows_a_confirmation_and_changes_nothing(site: Site) -> None:
    page = site.client.get(_path(site))
    assert page.status_code == 200
    assert "a***@acmecorp.example" in page.text  # recognisable, not the whole address
    assert 'method="post"' in page.text
    assert site.stored.suppressions() == {}


def test_the_confirmation_button_unsubscribes(site: Site) -> None:
    page = site.client.get(_path(site))
    action = page.text.split('form method="post" action="')[1].split('"')[0]
    answer = site.client.post(action, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert site.stored.suppressions() == {"ana.lima@acmecorp.example": "unsubscribe"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"),
        ("", None),
    ],
)
def test_one_click_post_works_without_csrf_or_cookies(
    site: Site, body: str, content_type: str | None
) -> None:
    """Mail providers post from their own servers: no page was opened, no cookie is held."""
    headers = {"content-type": content_type} if content_type else {}
    answer = site.client.post(_path(site), content=body, headers=headers)
    assert answer.status_code == 200
    assert site.stored.suppressions() == {"ana.lima@acmecorp.example": "unsubscribe"}
    again = site.client.post(_path(site), content=body, headers=headers)
    assert again.status_code == 200  # twice is fine
    assert len(site.stored.suppressions()) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_forged_or_foreign_tokens_get_a_neutral_400(site: Site, method: str) -> None:
    forged = _path(site)[:-3] + "abc"
    csrf_purpose = "/unsubscribe/" + sign(site.settings, "csrf", "ana@acmecorp.example")
    answers = [
        site.client.request(method, path) for path in (forged, csrf_purpose, "/unsubscribe/x")
    ]
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert len({a.text for a in answers}) == 1  # says nothing about any address
    assert "acmecorp" not in answers[0].text
    assert site.stored.suppressions() == {}


def test_access_log_hides_the_token(caplog: pytest.LogCaptureFixture) -> None:
    from web.access_log import HideUnsubscribeTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/unsubscribe/ImFuYUBhY21lLmNvbSI.x.y?z=1", "1.1", 200),
        None,
    )
    HideUnsubscribeTokens().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "POST /unsubscribe/<token>?z=1 HTTP/1.1" 200'
