"""The collector's pacing during a batch run: fewer young collections inside, the previous
thresholds back afterwards, also when the run fails."""

from __future__ import annotations

import gc

import pytest

from core.collector import BATCH_THRESHOLD, batch_pacing


def test_pacing_is_slower_inside_and_restored_after():
    before = gc.get_threshold()
    with batch_pacing():
        assert gc.get_threshold() == (max(BATCH_THRESHOLD, before[0]), *before[1:])
        assert gc.isenabled()  # slower, never off
    assert gc.get_threshold() == before


def test_pacing_is_restored_when_the_run_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_pacing():
        raise RuntimeError("the flow failed")
    assert gc.get_threshold() == before
