"""``retry_call`` (first attempt outside tenacity) behaves as the full policy does: the same
calls, the same waits, the same result or error, for any run of answers."""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.errors import PermanentError, TransientError, UncertainError
from integrations.retry import retry_call, vendor_retrying

ANSWERS = st.sampled_from(["ok", "transient", "rate_limited", "uncertain", "permanent", "bug"])


def vendor(answers: list[str]) -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def call() -> str:
        calls.append(len(calls))
        answer = answers[len(calls) - 1] if len(calls) <= len(answers) else "ok"
        if answer == "transient":
            raise TransientError(f"503 on call {len(calls)}")
        if answer == "rate_limited":
            raise TransientError(f"429 on call {len(calls)}", retry_after=7.0)
        if answer == "uncertain":
            raise UncertainError(f"timeout on call {len(calls)}")
        if answer == "permanent":
            raise PermanentError(f"400 on call {len(calls)}")
        if answer == "bug":
            raise KeyError(f"call {len(calls)}")
        return f"done on call {len(calls)}"

    return call, calls


def outcome(run: Callable[[Callable[[], str], Callable[[float], None]], str], answers: list[str]):  # type: ignore[no-untyped-def]
    call, calls = vendor(answers)
    slept: list[float] = []
    random.seed(7)  # the policy's jitter
    try:
        result: object = run(call, slept.append)
    except Exception as error:
        result = (type(error).__name__, str(error))
    return result, len(calls), [round(s, 9) for s in slept]


@settings(max_examples=300, deadline=None)
@given(answers=st.lists(ANSWERS, max_size=7), attempts=st.integers(1, 6))
def test_retry_call_makes_the_same_calls_and_waits_as_the_policy(answers, attempts):
    ours = outcome(lambda fn, sleep: retry_call(fn, attempts, sleep), answers)
    policy = outcome(lambda fn, sleep: vendor_retrying(attempts, sleep=sleep)(fn), answers)
    assert ours == policy
