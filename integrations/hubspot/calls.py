"""Every HubSpot call goes through here: rate limits, the shared retry policy, error
classification, and a count per endpoint so a sync's efficiency is visible."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3

from integrations.errors import PermanentError, TransientError
from integrations.rate_limit import RateLimiter
from integrations.retry import vendor_retrying

T = TypeVar("T")
log = logging.getLogger(__name__)

REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


def hubspot_message(error: Exception) -> str:
    """HubSpot's own words from an SDK ApiException: status, category, message, correlation id."""
    status = getattr(error, "status", None)
    body = getattr(error, "body", None)
    try:
        data = json.loads(body) if body else {}
    except (TypeError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    message = data.get("message") or getattr(error, "reason", None) or str(error)
    category = data.get("category") or data.get("errorType")
    correlation = data.get("correlationId")
    parts = [f"HubSpot {status}" if status else "HubSpot error"]
    if category:
        parts.append(str(category))
    text = f"{' '.join(parts)}: {message}"
    return f"{text} (correlationId {correlation})" if correlation else text


def _retry_after(error: Exception) -> float | None:
    headers = getattr(error, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify(error: Exception) -> Exception:
    """Map an SDK or transport error to TransientError / PermanentError."""
    if isinstance(error, urllib3.exceptions.HTTPError):  # timeouts, refused, reset
        return TransientError(f"HubSpot unreachable: {type(error).__name__}: {error}")
    status = getattr(error, "status", None)
    if status is None:
        return error
    message = hubspot_message(error)
    if status == 429:
        return TransientError(message, retry_after=_retry_after(error) or 1.0)
    if status >= 500 or status == 0:
        return TransientError(message, retry_after=_retry_after(error))
    return PermanentError(message)


class HubSpotCalls:
    """Runs SDK calls under the limits and policy, counting them by endpoint name."""

    def __init__(
        self,
        general: RateLimiter,
        search: RateLimiter,
        sleep: Callable[[float], None] | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.general = general
        self.search = search
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.counts: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()

    def __call__(self, endpoint: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        is_search = endpoint.endswith("/search")
        attempt = 0

        def once() -> T:
            nonlocal attempt
            attempt += 1
            if attempt > 1:
                self.retries[endpoint] += 1
            if is_search:
                self.search.acquire()
            self.general.acquire()
            self.counts[endpoint] += 1
            try:
                return fn(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
            except Exception as error:
                classified = classify(error)
                if classified is error:
                    raise
                level = logging.WARNING if isinstance(classified, TransientError) else logging.INFO
                log.log(level, "%s failed: %s", endpoint, classified)
                raise classified from error

        return vendor_retrying(max_attempts=self.max_attempts, sleep=self.sleep)(once)
