"""Every HubSpot call goes through here: rate limits, the shared retry policy, error
classification, and a count per endpoint so a sync's efficiency is visible.

What hubspot-api-client 12 (urllib3 2, ``Retry(total=0)``) raises, measured against the fake
server (``tests/fakes``): a refused or timed-out connect is ``NewConnectionError`` /
``ConnectTimeoutError`` (inside ``MaxRetryError``); a read timeout after sending is
``ReadTimeoutError``; a connection closed without an answer is ``ProtocolError``
(``RemoteDisconnected``); a 5xx is ``ServiceException`` (an ``ApiException``, ``status``
set). A 2xx whose JSON body is cut raises nothing: the SDK falls back to the raw text and
returns a model with every field None, so that is checked here.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import urllib3

from integrations.errors import PermanentError, TransientError, UncertainError
from integrations.rate_limit import RateLimiter
from integrations.retry import retry_call

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds to wait for an answer
CONNECT_TIMEOUT = 5.0
# Connection failures where the request never left: safe to send again.
_NOT_SENT = (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.PoolError)


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


def is_read(endpoint: str) -> bool:
    """Reads may be repeated whatever happened to their answer; everything else is a write."""
    return endpoint.startswith("GET ") or endpoint.endswith(("/search", "/batch/read"))


def _not_sent(error: Exception) -> bool:
    reason = error.reason if isinstance(error, urllib3.exceptions.MaxRetryError) else error
    return isinstance(reason, _NOT_SENT) and not isinstance(
        reason, urllib3.exceptions.ReadTimeoutError
    )


def _lost(message: str, write: bool, retry_after: float | None = None) -> TransientError:
    """The request was sent and its answer lost: on a write the effect may have happened."""
    if write:
        return UncertainError(f"answer lost, may have happened: {message}", retry_after)
    return TransientError(message, retry_after)


def classify(error: Exception, write: bool = True) -> Exception:
    """Map an SDK or transport error to TransientError / UncertainError / PermanentError."""
    if isinstance(error, urllib3.exceptions.HTTPError):
        message = f"HubSpot unreachable: {type(error).__name__}: {error}"
        return TransientError(message) if _not_sent(error) else _lost(message, write)
    if isinstance(error, OSError | http.client.HTTPException):  # below urllib3: after sending
        return _lost(f"HubSpot connection: {type(error).__name__}: {error}", write)
    status = getattr(error, "status", None)
    if status is None:
        return error
    message = hubspot_message(error)
    if status == 429:
        return TransientError(message, retry_after=_retry_after(error) or 1.0)
    if status >= 500 or status == 0:  # 0: the SDK's own failure (TLS, unparsable answer)
        return _lost(message, write, _retry_after(error))
    return PermanentError(message)


def unreadable(result: object) -> bool:
    """A model the SDK built from a body it could not parse: every field is None."""
    fields = getattr(result, "openapi_types", None)
    return bool(fields) and all(getattr(result, name, None) is None for name in fields)


class HubSpotCalls:
    """Runs SDK calls under the limits and policy, counting them by endpoint name."""

    def __init__(
        self,
        general: RateLimiter,
        search: RateLimiter,
        sleep: Callable[[float], None] | None = None,
        max_attempts: int = 5,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.general = general
        self.search = search
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.request_timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self.counts: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def json(
        self,
        endpoint: str,
        fn: Callable[..., Any],
        *args: Any,
        required: tuple[tuple[str, type], ...] = (),
        **kwargs: Any,
    ) -> Any:
        """Run one SDK call and return its answer as plain JSON, not the SDK's models: building
        a model parses every timestamp with dateutil, the larger part of a full sync's CPU. A
        cut or unparsable body, or one without the ``required`` fields of their types (what
        the SDK's model check caught: a 2xx ``{}`` is no empty page), is an answer lost, as
        in ``__call__``."""
        write = not is_read(endpoint)

        def parsed(*call_args: Any, **call_kwargs: Any) -> Any:
            response = fn(*call_args, _preload_content=False, **call_kwargs)
            try:
                data = json.loads(response.data)
            except ValueError:  # not JSON (a cut body raises urllib3's ProtocolError instead)
                data = None
            finally:
                response.release_conn()
            if not isinstance(data, dict) or not all(
                isinstance(data.get(name), kind) for name, kind in required
            ):
                log.warning("%s answered 2xx with an unreadable body", endpoint)
                raise _lost("HubSpot answered 2xx with an unreadable body", write)
            return data

        return self(endpoint, parsed, *args, **kwargs)

    def __call__(self, endpoint: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one SDK call; a lost answer to a write raises UncertainError, never retried."""
        is_search = endpoint.endswith("/search")
        write = not is_read(endpoint)
        attempt = 0

        def once() -> T:
            nonlocal attempt
            attempt += 1
            if attempt > 1:
                with self._count_lock:
                    self.retries[endpoint] += 1
            with self._count_lock:  # the sync reads ahead in a thread of its own
                self.counts[endpoint] += 1
            try:
                with self.search.call() if is_search else nullcontext(), self.general.call():
                    result = fn(*args, _request_timeout=self.request_timeout, **kwargs)
            except Exception as error:
                classified = classify(error, write)
                if classified is error:
                    raise
                level = logging.WARNING if isinstance(classified, TransientError) else logging.INFO
                log.log(level, "%s failed: %s", endpoint, classified)
                raise classified from error
            if unreadable(result):
                log.warning("%s answered 2xx with an unreadable body", endpoint)
                raise _lost("HubSpot answered 2xx with an unreadable body", write)
            return result

        return retry_call(once, self.max_attempts, self.sleep)
