"""The one retry policy every adapter uses, and the backoff of outbox redelivery.

Transient errors only (429 honouring ``Retry-After``, 5xx, timeouts), bounded attempts,
jittered exponential waits; never an :class:`UncertainError` (a write whose answer was lost may
have happened: only the outbox dispatcher, after asking the vendor, may send it again).
Adapters run each vendor call through :func:`retry_call`; the outbox dispatcher does not
retry on top of that, it reschedules the row with :func:`redelivery_delay`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from integrations.errors import TransientError, UncertainError

T = TypeVar("T")

MAX_ATTEMPTS = 5
MAX_TOTAL_SECONDS = 120.0
MAX_RETRY_AFTER = 60.0


def worth_retrying(error: BaseException) -> bool:
    """Transient, and certainly not performed (a lost answer to a write is not retried)."""
    return isinstance(error, TransientError) and not isinstance(error, UncertainError)


class wait_retry_after(wait_base):
    """Wait what the vendor asked for (``Retry-After``), else fall back to jittered backoff."""

    def __init__(self, fallback: wait_base, ceiling: float = MAX_RETRY_AFTER) -> None:
        self.fallback = fallback
        self.ceiling = ceiling

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.ceiling)
        return self.fallback(retry_state)


def vendor_retrying(
    max_attempts: int = MAX_ATTEMPTS,
    max_seconds: float = MAX_TOTAL_SECONDS,
    initial_wait: float = 0.5,
    sleep: Callable[[float], None] | None = None,
) -> Retrying:
    """A tenacity ``Retrying`` for one vendor call; ``sleep`` is injectable for tests."""
    kwargs = {} if sleep is None else {"sleep": sleep}
    return Retrying(
        retry=retry_if_exception(worth_retrying),
        wait=wait_retry_after(wait_exponential_jitter(multiplier=initial_wait, max=30.0)),
        stop=stop_after_attempt(max_attempts) | stop_after_delay(max_seconds),
        reraise=True,
        **kwargs,
    )


def retry_call(
    fn: Callable[[], T],
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """``vendor_retrying(max_attempts, sleep=sleep)(fn)`` with the first attempt made before
    tenacity is involved: nearly every call succeeds at once, and tenacity's bookkeeping for
    one attempt cost more than the call itself to a local vendor (8% of an email's CPU). A
    failure worth retrying becomes the policy's first attempt, so the waits, the number of
    attempts and what is finally raised are the same (the policy's ``MAX_TOTAL_SECONDS``
    counts the first attempt's time too)."""
    started = time.monotonic()
    try:
        return fn()
    except Exception as error:
        if max_attempts <= 1 or not worth_retrying(error):
            raise
        first: list[Exception] = [error]

    def attempt() -> T:
        if first:
            raise first.pop()
        return fn()

    left = MAX_TOTAL_SECONDS - (time.monotonic() - started)
    return vendor_retrying(max_attempts, max_seconds=left, sleep=sleep)(attempt)


def redelivery_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before an outbox row that failed transiently is tried again.

    1 min, 2, 4 ... capped at 6 h, with up to 20% jitter so a burst of failures does not come
    back as a burst.
    """
    base = min(60.0 * 2 ** max(attempts - 1, 0), 6 * 3600.0)
    return base * (1 + 0.2 * (rng or random).random())
