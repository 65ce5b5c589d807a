"""The client-side limiter: whatever the delays on the way, the vendor never counts more than
the limit in one of its windows, and a call waits no longer than that needs."""

from __future__ import annotations

import random
import threading
import time

import pytest

from integrations.rate_limit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def most_in_a_window(stamps: list[float], period: float) -> int:
    """The most stamps in one window of ``period`` (two exactly ``period`` apart, give or take
    a float's rounding, are in two windows)."""
    stamps = sorted(stamps)
    most, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= period - 1e-5:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.parametrize("seed", range(20))
def test_the_vendor_never_counts_more_than_the_limit_however_calls_are_delayed(seed: int) -> None:
    """The vendor stamps each call somewhere between its send and its answer; the stamps the
    test picks are the worst ones: a slow call stamped at its answer, a fast one at its send."""
    rng = random.Random(seed)
    t = FakeTime()
    limiter = RateLimiter(5, 10.0, clock=t.clock, sleep=t.sleep)
    stamps = []
    for _ in range(60):
        limiter.acquire()
        sent = t.now
        t.now += rng.choice([0.01, 0.05, 2.0, 4.0])  # the round trip
        stamps.append(t.now if t.now - sent > 1.0 else sent)
        limiter.release()
        t.now += rng.choice([0.0, 0.0, 0.3])  # our own work before the next call
    assert most_in_a_window(stamps, 10.0) <= 5


def test_a_slot_is_held_until_a_window_after_the_answer() -> None:
    t = FakeTime()
    limiter = RateLimiter(1, 10.0, clock=t.clock, sleep=t.sleep)
    with limiter.call():
        t.now = 3.0  # answered 3 s after it was sent
    limiter.acquire()
    assert t.now == pytest.approx(13.0)
    assert limiter.waited == pytest.approx(10.0)


def test_fast_calls_use_the_whole_limit() -> None:
    t = FakeTime()
    limiter = RateLimiter(190, 10.0, clock=t.clock, sleep=t.sleep)
    for _ in range(190 * 3):
        with limiter.call():
            t.now += 0.01
    # 570 calls of 10 ms: three windows of 10 s and each window's last round trip, no more.
    assert t.now == pytest.approx(20.0 + 2 * 0.01 + 190 * 0.01, abs=0.05)


def test_a_call_that_failed_still_holds_its_slot() -> None:
    t = FakeTime()
    limiter = RateLimiter(1, 10.0, clock=t.clock, sleep=t.sleep)
    with pytest.raises(OSError), limiter.call():
        raise OSError("connection reset")  # it may have reached the vendor all the same
    limiter.acquire()
    assert t.now == pytest.approx(10.0)


def test_calls_in_flight_hold_their_slots_across_threads() -> None:
    limiter = RateLimiter(2, 0.2)
    limiter.acquire()
    limiter.acquire()  # two calls in flight, none answered
    third = threading.Thread(target=limiter.acquire)
    started = time.monotonic()
    third.start()
    time.sleep(0.1)
    assert third.is_alive()  # both slots are held by calls still in flight
    limiter.release()
    third.join(timeout=5)
    assert not third.is_alive()
    assert time.monotonic() - started >= 0.2  # the answered slot was free a window later


def test_release_without_acquire_is_a_bug_not_a_free_slot() -> None:
    with pytest.raises(RuntimeError):
        RateLimiter(1, 1.0).release()
