"""Generated CRM records: the property values real portals send, and the ones they should
not (huge numbers, infinities, dates at the ends of the calendar, control characters, NUL,
numbers where text belongs and text where numbers belong)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

SECRET = "secret.person@private.example"  # an email that must never reach a message

ODD_TEXT = st.sampled_from(
    [
        "Infinity",
        "-Infinity",
        "NaN",
        "1e30",
        "-1",
        "0",
        "7.5",
        "99999999999999999999999",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-05:00",
        "2026-02-30",
        "2026-03-02T09:00:00Z",
        "1772442000000",
        "999999999999999999999",
        "true",
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u200b",
        "x" * 5000,
        SECRET,
        f"<{SECRET}>",
        "https://www.Acme.example/about",
        "bücher.example",
        "not a domain",
    ]
)
VALUE: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    ODD_TEXT,
    st.text(max_size=400),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
)

COMPANY_KEYS = (
    "name",
    "domain",
    "health_score",
    "renewal_date",
    "onboarding_completed_at",
    "segment",
    "industry",
    "lifecyclestage",
    "hubspot_owner_id",
)
CONTACT_KEYS = (
    "email",
    "firstname",
    "lastname",
    "jobtitle",
    "linkedin_followers",
    "speaks_at_events",
    "hs_email_optout",
    "associatedcompanyid",
)
DEAL_KEYS = (
    "dealname",
    "dealstage",
    "pipeline",
    "amount",
    "closedate",
    "createdate",
    "hubspot_owner_id",
    "deal_currency_code",
    "referral_program_id",
    "hs_v2_date_entered_contractsent",
    "hs_date_entered_closedwon",
    "hs_v2_date_entered_mystery",
    "first_payment_date",
    "onboarding_started_date",
)


def properties(keys: tuple[str, ...], required: dict[str, Any] | None = None) -> st.SearchStrategy:
    """A property dict over ``keys``: any subset, any values; ``required`` ones usually sane."""
    odd = st.dictionaries(st.sampled_from(keys), VALUE, max_size=len(keys))
    if not required:
        return odd
    return st.builds(lambda base, extra: {**base, **extra}, st.fixed_dictionaries(required), odd)


def company() -> st.SearchStrategy[dict[str, Any]]:
    return properties(COMPANY_KEYS, {"name": st.sampled_from(["Acme", "Zoë ApS", "Co"])})


def contact() -> st.SearchStrategy[dict[str, Any]]:
    return properties(CONTACT_KEYS, {"email": st.sampled_from(["ana@acme.example", "x@y.example"])})


def deal() -> st.SearchStrategy[dict[str, Any]]:
    stages = st.sampled_from(["contractsent", "closedwon", "closedlost", "mystery", "11450002"])
    return properties(
        DEAL_KEYS, {"dealstage": stages, "pipeline": st.sampled_from(["default", "11450001"])}
    )


UPDATED = datetime(2026, 3, 2, 9, tzinfo=UTC)
