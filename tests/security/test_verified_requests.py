"""Requests that change something are verified, and a refused one changes nothing:

- the landing forms need the page's CSRF token tied to the visitor's cookie (403), and are
  rate-limited per client IP and per referral code (429, nothing stored);
- SendGrid's webhook needs its ECDSA signature over this body, signed within five minutes
  and not in the future (401);
- Slack's requests need their HMAC signature within five minutes (401);
- an unsubscribe link must carry our signed token (400, nothing suppressed).

tests/web holds the detailed cases; these are the checks in one place, each asserting on the
database as well as on the answer.
"""

from __future__ import annotations

import json

import pytest

from tests.properties.snapshots import compare, snapshot
from tests.properties.test_slack_payload_properties import deliver, slack  # noqa: F401
from tests.properties.web_cases import new_keys, sendgrid_headers
from tests.web.conftest import MakeSite, Site
from tests.web.site import VALID, csrf_token

TABLES = ("referrals", "people", "outbox", "suppressions", "rate_counters", "asks", "audit_log")


def nothing_changed(site: Site, before: dict) -> None:  # type: ignore[type-arg]
    assert compare(before, snapshot(site.factory, TABLES)) == {name: [] for name in TABLES}


@pytest.mark.parametrize("path", ["/r/{code}", "/refer"])
@pytest.mark.parametrize("token", ["missing", "forged", "someone_elses", "empty"])
def test_a_form_post_without_its_own_token_is_403_and_stores_nothing(
    site: Site, path: str, token: str
) -> None:
    url = path.format(code=site.code)
    mine = csrf_token(site.client.get(url).text)
    theirs = csrf_token(site.other_client("198.51.100.20").get(url).text)
    fields = {**VALID, "code": site.code}
    fields |= {
        "missing": {},
        "forged": {"csrf_token": mine[:-3] + ("AAA" if not mine.endswith("AAA") else "BBB")},
        "someone_elses": {"csrf_token": theirs},
        "empty": {"csrf_token": ""},
    }[token]
    before = snapshot(site.factory, TABLES)
    assert site.client.post(url, data=fields).status_code == 403
    nothing_changed(site, before)


def _post(client, path: str, n: int) -> int:  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(path).text)
    fields = {**VALID, "email": f"lead{n}@prospect{n}.example", "csrf_token": token}
    return client.post(path, data=fields).status_code


def test_posts_are_limited_per_ip_and_per_code(make_site: MakeSite) -> None:
    site = make_site(REFERRALS_WEB_POSTS_PER_IP=2, REFERRALS_WEB_POSTS_PER_CODE=3)
    path = f"/r/{site.code}"
    assert [_post(site.client, path, n) for n in range(3)] == [303, 303, 429]
    # Other addresses share the code's limit: one more intro, then the code is refused.
    others = [_post(site.other_client(f"203.0.113.{n}"), path, 10 + n) for n in range(1, 3)]
    assert others == [303, 429]
    assert len(site.stored.referrals()) == 3


@pytest.mark.parametrize("how", ["missing", "other_key", "other_body", "old", "future", "junk"])
def test_an_unverified_sendgrid_delivery_is_401_and_suppresses_nothing(
    site: Site, how: str
) -> None:
    body = json.dumps([{"event": "unsubscribe", "email": "someone@else.example"}]).encode()
    now = int(site.clock.now().timestamp())
    headers = {
        "missing": {"content-type": "application/json"},
        "other_key": sendgrid_headers(new_keys(), body, now),
        "other_body": sendgrid_headers(site.keys, body.replace(b"someone", b"another"), now),
        "old": sendgrid_headers(site.keys, body, now - 301),
        "future": sendgrid_headers(site.keys, body, now + 3600),
        "junk": {
            **sendgrid_headers(site.keys, body, now),
            "X-Twilio-Email-Event-Webhook-Signature": "not base64 at all!",
        },
    }[how]
    before = snapshot(site.factory, TABLES)
    assert site.client.post("/webhooks/sendgrid", content=body, headers=headers).status_code == 401
    nothing_changed(site, before)


@pytest.mark.parametrize("signing", ["wrong", "replayed", "missing"])
def test_an_unverified_slack_click_is_401_and_changes_nothing(
    slack,  # noqa: F811
    signing: str,
) -> None:  # type: ignore[no-untyped-def]
    site, digest = slack
    payload = site.fake.block_action(
        "U0CSM0001", digest.channel, digest.ts, f"ask:{digest.ask_id}", "ask_asked"
    )
    before = snapshot(site.factory, TABLES)
    assert deliver(site, {"payload": json.dumps(payload)}, signing).status_code == 401
    assert compare(before, snapshot(site.factory, TABLES)) == {name: [] for name in TABLES}
    assert site.fake.calls_to("chat.update") == []
    # The same click, signed, is what changes the ask: the refusals above were the signature.
    assert deliver(site, {"payload": json.dumps(payload)}, "good").status_code == 200
    assert site.ask(digest.ask_id).status == "asked"


@pytest.mark.parametrize("token", ["nottoken", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_an_unsubscribe_link_without_our_signature_suppresses_nothing(
    site: Site, token: str
) -> None:
    before = snapshot(site.factory, TABLES)
    assert site.client.post(f"/unsubscribe/{token}").status_code == 400
    nothing_changed(site, before)
