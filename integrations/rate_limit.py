"""A client-side sliding-window rate limiter, so we stay under a vendor's published limits
instead of learning them from 429s.

The vendor counts a call when it arrives, which we never see: only that it is somewhere
between the moment we sent it and the moment its answer came back. So a call holds its slot
from ``acquire`` until ``period`` seconds after its answer (``release``). Then every call the
vendor could count in any of its windows was still holding a slot when the latest of them was
sent, and the vendor can never count more than ``max_calls`` in one window, however unevenly
requests travel. Counting from the send instead needs a margin on the window as long as the
worst delay, paid on every call (a 1 s margin capped the sync at 91% of HubSpot's limit);
counting from the answer costs one round trip per window. (A call that timed out is taken to
have arrived by the time we gave up on it; and the limiter knows only this process's calls.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# How long a thread waits, at most, when every slot is held by a call still in flight (only
# with more threads calling at once than the limit allows calls): a release wakes it sooner.
IN_FLIGHT_WAIT = 1.0
# Slack in comparing times: a sleep of the exact wait can land a rounding error short of it.
EPSILON = 1e-6


class RateLimiter:
    """At most ``max_calls`` in any ``period`` seconds, as the vendor counts them; ``acquire``
    sleeps until a slot is free, ``release`` records the answer's arrival."""

    def __init__(
        self,
        max_calls: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError("a rate limit needs max_calls >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._answered: deque[float] = deque()  # when each answer arrived, oldest first
        self._in_flight = 0
        self._changed = threading.Condition()
        self.waited = 0.0  # total seconds spent waiting, for reports

    @contextmanager
    def call(self) -> Iterator[None]:
        """Hold a slot for one call, whatever way it ends (an error came back too)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        while True:
            with self._changed:
                now = self._clock()
                while self._answered and now - self._answered[0] >= self.period - EPSILON:
                    self._answered.popleft()
                if len(self._answered) + self._in_flight < self.max_calls:
                    self._in_flight += 1
                    return
                if not self._answered:
                    started = self._clock()
                    self._changed.wait(IN_FLIGHT_WAIT)
                    self.waited += self._clock() - started
                    continue
                wait = self.period - (now - self._answered[0])
            self.waited += wait
            self._sleep(wait)

    def release(self) -> None:
        with self._changed:
            if self._in_flight <= 0:
                raise RuntimeError("release without acquire")
            self._in_flight -= 1
            # Appended under the lock from a monotonic clock, so the deque stays in order.
            self._answered.append(self._clock())
            self._changed.notify_all()
