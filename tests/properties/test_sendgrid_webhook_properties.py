"""Properties of SendGrid's event webhook over any body, signed or not.

Whatever is posted to ``/webhooks/sendgrid``: never a 500 (SendGrid would retry the whole
batch for a day, so one odd event would hold back every good one), a signed body is 204 or a
clean 400, anything unsigned, wrongly signed or replayed is 401 and stores nothing, a 204
adds exactly the suppressing events' addresses (each with its first reason), and every
address suppressed before keeps its row unchanged.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from db.models import Suppression
from tests.properties.profiles import scaled
from tests.properties.snapshots import compare, snapshot
from tests.properties.web_cases import new_keys, sendgrid_headers, web_site  # noqa: F401
from tests.web.conftest import Site

PATH = "/webhooks/sendgrid"
SUPPRESSING = ("bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe")
OTHERS = ("delivered", "open", "click", "processed", "deferred", "Bounce", "")
EMAIL_LIMIT = Suppression.__table__.c.email.type.length  # 320

_LOCAL = st.text("abcdefghijklmnopqrstuvwxyzABCDEF0123456789._+-", min_size=1, max_size=24)
_PLAIN_EMAIL = st.builds(
    lambda local, host: f"{local}@{host}.example", _LOCAL, st.sampled_from(["a", "b", "c", "d"])
)
# A few addresses recur across events and examples: first reasons and repeats get exercised.
_EMAIL = st.one_of(
    _PLAIN_EMAIL,
    st.sampled_from(["Kept@Before.example", "again@b.example", " Spaced@C.example "]),
    st.builds(lambda e: e.upper(), _PLAIN_EMAIL),
    st.builds(lambda e, junk: e + junk, _PLAIN_EMAIL, st.text(max_size=8)),
    st.builds(lambda e: "x" * (EMAIL_LIMIT + 1 - len(e) + 10) + e, _PLAIN_EMAIL),
    st.builds(lambda a, b: f"{a}\x00{b}", _PLAIN_EMAIL, _PLAIN_EMAIL),
    st.text(max_size=40),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(max_size=3).map(lambda t: t + "\x00"),
)
_EVENT = st.fixed_dictionaries(
    {
        "event": st.sampled_from(SUPPRESSING + OTHERS) | _SCALAR,
        "email": _EMAIL,
    },
    optional={
        "type": st.sampled_from(["bounce", "blocked"]) | _SCALAR,
        "timestamp": _SCALAR,
        "sg_event_id": _SCALAR,
        "sg_message_id": _SCALAR,
        "outbox_key": _SCALAR,
        "referral_id": _SCALAR,
        "reason": _SCALAR,
        "category": st.lists(_SCALAR, max_size=2),
    },
)
_ITEM = _EVENT | _SCALAR | st.lists(_SCALAR, max_size=2)
_BODY = st.one_of(
    st.lists(_ITEM, max_size=8).map(lambda items: json.dumps(items).encode()),
    st.lists(_EVENT, max_size=8).map(lambda items: json.dumps(items, ensure_ascii=False).encode()),
    _SCALAR.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=60),
    # What json.loads itself gives up on: nesting past the recursion limit, huge integers.
    st.sampled_from([b"[" * 100_000, b"[" + b"9" * 5000 + b"]", b'[{"email": "a@b.c"'] * 1),
    st.text(max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
# How the request is signed: properly, or one of the ways a forger or a replay would try.
_SIGNING = st.sampled_from(["good", "good", "good", "none", "other_key", "other_body", "old"])


def expected_suppressions(body: bytes) -> dict[str, str]:
    """The addresses a signed body must suppress (first reason per address), from the
    webhook's documented rules, written out here independently of the parser."""
    try:
        items = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    found: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("event") not in SUPPRESSING:
            continue
        email = item.get("email")
        if not isinstance(email, str) or "@" not in email:
            continue
        if item["event"] == "bounce" and item.get("type") == "blocked":
            continue
        address = email.strip().lower()
        # Not an address mail can go to: nothing of ours was ever sent there.
        if any(c < " " or c == "\x7f" for c in address) or not 0 < len(address) <= EMAIL_LIMIT:
            continue
        found.setdefault(address, item["event"])
    return found


def signed_as(site: Site, how: str, body: bytes) -> dict[str, str]:
    now = int(site.clock.now().timestamp())
    if how == "none":
        return {"content-type": "application/json"}
    if how == "other_key":
        return sendgrid_headers(new_keys(), body, now)
    if how == "other_body":
        return sendgrid_headers(site.keys, body + b" ", now)
    if how == "old":  # a replay of a delivery seen ten minutes ago
        return sendgrid_headers(site.keys, body, now - 600)
    return sendgrid_headers(site.keys, body, now)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=scaled(300))
@given(body=_BODY, how=_SIGNING)
def test_any_delivery_is_204_400_or_401_and_only_adds_what_must_stop_mail(
    web_site: Site,  # noqa: F811
    body: bytes,
    how: str,
) -> None:
    site = web_site
    before = snapshot(site.factory, ["suppressions", "outbox", "referrals", "people"])

    answer = site.client.post(PATH, content=body, headers=signed_as(site, how, body))

    after = snapshot(site.factory, ["suppressions", "outbox", "referrals", "people"])
    new = compare(before, after)
    assert not new["outbox"] and not new["referrals"] and not new["people"]
    added = {row["email"]: row["reason"] for row in new["suppressions"]}
    if how != "good" or not _is_utf8(body):
        # SendGrid signs UTF-8 JSON; bytes that are not UTF-8 cannot carry its signature.
        assert answer.status_code == 401, (how, answer.status_code)
        assert added == {}
        return
    assert answer.status_code in (204, 400), (answer.status_code, answer.text)
    if answer.status_code == 400:
        assert added == {}
        assert "\n" not in answer.text and len(answer.text) < 200
        return
    wanted = expected_suppressions(body)
    known = {email for (email,) in before["suppressions"]}
    assert added == {e: r for e, r in wanted.items() if e not in known}
    for row in new["suppressions"]:
        assert row["source"] == "sendgrid"
        assert all(isinstance(v, str | None) for v in row["details"].values())


# --- what the property found (kept as plain examples) ----------------------------------------


def test_a_nested_or_huge_number_body_is_a_400_not_a_500(web_site: Site) -> None:  # noqa: F811
    for body in (b"[" * 100_000, b"[" + b"9" * 5000 + b"]"):
        answer = web_site.client.post(PATH, content=body, headers=signed_as(web_site, "good", body))
        assert answer.status_code == 400, answer.status_code
        assert "not JSON" in answer.text


def test_an_unmailable_address_is_skipped_and_the_batch_kept(web_site: Site) -> None:  # noqa: F811
    events = [
        {"event": "bounce", "email": "a\x00b@c.example", "sg_event_id": "e\x00"},
        {"event": "dropped", "email": "x" * 400 + "@c.example"},
        {"event": "spamreport", "email": "Good@C.example", "sg_message_id": "m\x00"},
    ]
    body = json.dumps(events).encode()
    answer = web_site.client.post(PATH, content=body, headers=signed_as(web_site, "good", body))
    assert answer.status_code == 204
    assert web_site.stored.suppressions() == {"good@c.example": "spamreport"}
