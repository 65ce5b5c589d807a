"""Hypothesis profiles: a few hundred cases per property on every `make test`, many more on
demand: ``HYPOTHESIS_PROFILE=bench`` (five times as many: at least 1,000 cases for each
bad-input suite) or ``HYPOTHESIS_PROFILE=deep`` (twenty times)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
SCALE = {"default": 1, "bench": 5, "deep": 20}.get(PROFILE, 1)


def register() -> None:
    common = {
        "deadline": None,  # timing varies with the machine and the database: never a failure
        "print_blob": True,
        # .data/ is git-ignored; failing cases are replayed first on the next run
        "database": DirectoryBasedExampleDatabase(".data/hypothesis"),
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,  # database tests reset state per example
        ],
    }
    settings.register_profile("default", max_examples=300, **common)
    settings.register_profile("bench", max_examples=300 * 5, **common)
    settings.register_profile("deep", max_examples=300 * 20, **common)
    settings.load_profile(PROFILE if PROFILE in ("default", "bench", "deep") else "default")


def scaled(examples: int) -> int:
    """``examples`` on every run, five times as many under bench, twenty under deep."""
    return examples * SCALE
