"""The one retry policy every adapter uses, and the backoff of outbox redelivery.

Transient errors only (429 honouring ``Retry-After``, 5xx, timeouts), bounded attempts,
jittered exponential waits; never an :class:`UncertainError` (a write whose answer was lost may
have happened: only the outbox dispatcher, after asking the vendor, may send it again).
Adapters wrap each vendor call with :func:`vendor_retrying`; the outbox dispatcher does not
retry on top of that, it reschedules the row with :func:`redelivery_delay`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import ParamSpec, TypeVar

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

P = ParamSpec("P")
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


def call_with_retry(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one vendor call under the shared policy."""
    return vendor_retrying()(fn, *args, **kwargs)


def redelivery_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before an outbox row that failed transiently is tried again.

    1 min, 2, 4 ... capped at 6 h, with up to 20% jitter so a burst of failures does not come
    back as a burst.
    """
    base = min(60.0 * 2 ** max(attempts - 1, 0), 6 * 3600.0)
    return base * (1 + 0.2 * (rng or random).random())
