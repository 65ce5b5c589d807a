"""Properties of the landing pages' posts (``POST /r/{code}`` and ``POST /refer``) over any
form a browser, a bot or a forger could send.

Whatever is posted: never a 500 or an unhandled exception; the answer is the thank-you
redirect (303), the form again with a message per field (422, or 200 to confirm a
disclosure), the one "unknown link" page (404), or a clean refusal (403 CSRF, 413 too large);
without a valid CSRF token nothing at all is stored (not even a rate-limit hit); anything but
a 303 stores no referral, person or email; a 303 stores at most one referral and its one
"thanks" email; nothing stored before changes; and what was typed comes back HTML-escaped.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import event, given, settings
from hypothesis import strategies as st

from domain.referral_codes import new_code
from tests.properties.profiles import scaled
from tests.properties.snapshots import compare, snapshot
from tests.properties.web_cases import web_site  # noqa: F401
from tests.web.conftest import Site
from tests.web.site import VALID, csrf_token

MARK = "<b>Zq9"  # planted in typed values: the page must never hold it unescaped
TABLES = ("referrals", "people", "outbox", "rate_counters", "referral_links", "suppressions")
FIELDS = ("name", "email", "company", "role", "note", "code", "website", "disclosure_ack")

_VALUE = st.one_of(
    st.sampled_from(list(VALID.values())),
    st.text(max_size=40),
    st.text(max_size=40).map(lambda t: MARK + t),
    st.sampled_from(["", " ", "\x00", "a\x00b", "<script>alert(1)</script>", "x" * 2001]),
    st.builds(lambda n: "y" * n, st.integers(0, 12_000)),
    st.text(max_size=8).map(lambda t: t + "\ud800"),  # a lone surrogate: not encodable UTF-8
)
_FIELD = st.sampled_from(FIELDS) | st.text(max_size=10)
_PAIRS = st.lists(st.tuples(_FIELD, _VALUE), max_size=10)
_PATH = st.sampled_from(["/refer", "known", "unknown", "junk"])
_QUERY = st.dictionaries(
    st.sampled_from(["src", "utm_source", "utm_campaign", "code", "x"]), _VALUE, max_size=3
)
_CSRF = st.sampled_from(["good", "good", "good", "missing", "forged", "other_cookie"])
_BODY = st.sampled_from(["form", "form", "multipart", "raw", "json"])


def _path(site: Site, which: str, junk: str) -> str:
    if which == "known":
        return f"/r/{site.code}"
    if which == "unknown":
        return f"/r/{new_code()}"  # well formed, never issued
    if which == "junk":
        return "/r/" + _q(junk or "x")
    return which


def _q(text: str) -> str:
    # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, as a bot may send
    return quote(text, safe="", errors="surrogatepass")


def _encodable(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (k.encode("utf-8", "replace").decode(), v.encode("utf-8", "replace").decode())
        for k, v in pairs
    ]


def _post(site: Site, url: str, pairs: list[tuple[str, str]], body: str, raw: bytes) -> Any:
    pairs = _encodable(pairs)
    if body == "multipart":  # every field a file part: what a form with uploads would send
        files = [(k, (None, v.encode())) for k, v in pairs]
        return site.client.post(url, files=files or [("x", (None, b""))])
    if body == "raw":
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return site.client.post(url, content=raw, headers=headers)
    if body == "json":
        return site.client.post(url, json=dict(pairs))
    # Encoded here: repeated fields kept, in order (a form may carry a name twice).
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return site.client.post(url, content=urlencode(pairs), headers=headers)


@settings(max_examples=scaled(300))
@given(
    which=_PATH,
    junk=st.text(max_size=20),
    query=_QUERY,
    pairs=_PAIRS,
    complete=st.booleans(),
    csrf=_CSRF,
    body=_BODY,
    raw=st.binary(max_size=200),
)
def test_any_post_is_answered_cleanly_and_stores_at_most_the_one_intro(
    web_site: Site,  # noqa: F811
    which: str,
    junk: str,
    query: dict[str, str],
    pairs: list[tuple[str, str]],
    complete: bool,
    csrf: str,
    body: str,
    raw: bytes,
) -> None:
    site = web_site
    path = _path(site, which, junk)
    url = path + ("?" + "&".join(f"{_q(k)}={_q(v)}" for k, v in query.items()))
    site.client.cookies.clear()
    page = site.client.get(path if path == "/refer" else f"/r/{site.code}")
    token = csrf_token(page.text)
    if complete:  # a well-filled form, then whatever else was drawn on top
        pairs = [*VALID.items(), ("code", site.code), *pairs]
    if csrf == "good" or csrf == "other_cookie":
        pairs = [*pairs, ("csrf_token", token)]
    elif csrf == "forged":
        pairs = [*pairs, ("csrf_token", token[:-4] + "AAAA")]
    if csrf == "other_cookie":  # a token from a page another visitor was shown
        site.client.cookies.clear()
        site.client.get("/refer")
    before = snapshot(site.factory, TABLES)

    answer = _post(site, url, pairs, body, raw)

    after = snapshot(site.factory, TABLES)
    new = compare(before, after, may_change={"rate_counters": ("count",)})
    status = answer.status_code
    event(f"{which}, {csrf}, {body}: {status}")
    # 307/404/405: a junk path the router itself answers (a trailing slash, an empty code)
    assert status in (200, 303, 307, 403, 404, 405, 413, 422), (status, answer.text[:300])
    if status == 403:
        assert all(not rows for rows in new.values()), new  # not even a rate-limit hit
    if status != 303:
        assert not new["referrals"] and not new["people"] and not new["outbox"]
    else:
        assert answer.headers["location"] == "/thanks"
        assert len(new["referrals"]) <= 1 and len(new["outbox"]) <= len(new["referrals"])
        assert not new["people"]  # a landing page never creates a referrer
    assert not new["referral_links"] and not new["suppressions"]
    assert MARK not in answer.text, "typed text came back unescaped"
    if csrf != "good" and body != "raw":
        assert status in (403, 413) or (which == "junk" and status in (307, 404, 405)), status
