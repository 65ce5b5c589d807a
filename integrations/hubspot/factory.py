"""Builds the HubSpot CRM adapter: SDK client, rate limits, retry policy."""

from __future__ import annotations

from collections.abc import Callable

from hubspot import HubSpot
from urllib3.util import Retry

from integrations.hubspot.calls import DEFAULT_TIMEOUT, HubSpotCalls
from integrations.hubspot.crm import HubSpotCrm
from integrations.rate_limit import RateLimiter

# We count a call when it leaves, HubSpot when it arrives: a window a little longer than
# HubSpot's keeps calls whose arrival is delayed unevenly inside its limit (the 100k benchmark
# met four 429s in a push with the exact 10 s window, and one a sync with 0.5 s more when
# it read ahead in a thread of its own).
WINDOW_MARGIN = 1.0


def build_hubspot_crm(
    token: str,
    base_url: str,
    calls_per_10s: int = 100,
    searches_per_second: int = 4,
    sleep: Callable[[float], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> HubSpotCrm:
    """HubSpot's documented limits are 100 (or 190) calls per 10 s per app and 5 searches per
    second; the defaults leave headroom. ``sleep`` is injectable so tests need not wait;
    ``timeout`` is how long (seconds) to wait for an answer."""
    calls = HubSpotCalls(
        general=RateLimiter(
            calls_per_10s, 10.0 + WINDOW_MARGIN, **({"sleep": sleep} if sleep else {})
        ),
        search=RateLimiter(searches_per_second, 1.0, **({"sleep": sleep} if sleep else {})),
        sleep=sleep,
        timeout=timeout,
    )
    # urllib3 would otherwise retry some calls on its own (GETs on 429): our policy is the one.
    client = HubSpot(access_token=token, host=base_url.rstrip("/"), retry=Retry(total=0))
    return HubSpotCrm(client, calls)
