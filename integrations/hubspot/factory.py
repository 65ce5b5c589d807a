"""Builds the HubSpot CRM adapter: SDK client, rate limits, retry policy."""

from __future__ import annotations

from collections.abc import Callable

from hubspot import HubSpot
from urllib3.util import Retry

from integrations.hubspot.calls import DEFAULT_TIMEOUT, HubSpotCalls
from integrations.hubspot.crm import HubSpotCrm
from integrations.rate_limit import RateLimiter

# The limiter holds each call's slot until a window after its answer (see rate_limit), so
# HubSpot can never count more than the limit whatever the delays; this margin only covers
# clock granularity. It is paid on every window: 50 ms cost 5% of the one-second search
# limit, which a first sync of 100k accounts spends most of its time waiting on.
WINDOW_MARGIN = 0.005


def build_hubspot_crm(
    token: str,
    base_url: str,
    calls_per_10s: int = 100,
    searches_per_second: int = 4,
    sleep: Callable[[float], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> HubSpotCrm:
    """HubSpot's documented limits are 100 (or 190) calls per 10 s per app and 5 searches per
    second. A limiter holds for this process only, while HubSpot counts per app and account
    (other flow runs and apps share it), so the search default keeps one of five spare. ``sleep``
    is injectable so tests need not wait; ``timeout`` is how long (seconds) to wait for an
    answer."""
    pause = {"sleep": sleep} if sleep else {}
    calls = HubSpotCalls(
        general=RateLimiter(calls_per_10s, 10.0 + WINDOW_MARGIN, **pause),
        search=RateLimiter(searches_per_second, 1.0 + WINDOW_MARGIN, **pause),
        sleep=sleep,
        timeout=timeout,
    )
    # urllib3 would otherwise retry some calls on its own (GETs on 429): our policy is the one.
    client = HubSpot(access_token=token, host=base_url.rstrip("/"), retry=Retry(total=0))
    return HubSpotCrm(client, calls)
