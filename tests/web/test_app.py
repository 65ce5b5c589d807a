"""What every page shares: health, security headers, the body cap."""

from __future__ import annotations

from tests.web.conftest import Site
from tests.web.site import VALID, csrf_token


def test_healthz(site: Site) -> None:
    answer = site.client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "database": "ok"}


def test_security_headers_on_every_answer(site: Site) -> None:
    for answer in (
        site.client.get(f"/r/{site.code}"),
        site.client.get("/r/x"),
        site.client.get("/healthz"),
    ):
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_huge_form_post_is_413_and_stores_nothing(site: Site) -> None:
    token = csrf_token(site.client.get(f"/r/{site.code}").text)
    fields = {**VALID, "note": "x" * 100_000, "csrf_token": token}
    assert site.client.post(f"/r/{site.code}", data=fields).status_code == 413

    def chunks():  # no Content-Length: counted as it streams
        yield b"csrf_token=" + token.encode() + b"&note="
        for _ in range(20):
            yield b"x" * 10_000

    answer = site.client.post(
        f"/r/{site.code}",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert site.stored.referrals() == []


def test_no_api_explorer_in_public(site: Site) -> None:
    assert site.client.get("/docs").status_code == 404
    assert site.client.get("/openapi.json").status_code == 404
