"""The smaller size stands for its repeats by each phase's median, so one slow or fast run
does not move a growth ratio."""

from __future__ import annotations

from typing import Any

from benchmarks.run import median_run


def _run(cpus: list[float]) -> dict[str, Any]:
    return {
        "accounts": 10_000,
        "phases": [
            {"day": "first", "name": f"flow-{i}", "wall_s": 10 * c, "cpu_s": c, "records": 7}
            for i, c in enumerate(cpus)
        ],
    }


def test_each_phase_takes_the_median_of_the_repeats_and_keeps_their_spread() -> None:
    run = median_run([_run([1.0, 5.0]), _run([3.0, 4.0]), _run([2.0, 9.0])])
    assert [p["cpu_s"] for p in run["phases"]] == [2.0, 5.0]
    assert [p["wall_s"] for p in run["phases"]] == [20.0, 50.0]
    assert run["phases"][1]["cpu_s_repeats"] == [5.0, 4.0, 9.0]
    assert run["phases"][0]["records"] == 7
    assert run["repeats"] == 3


def test_a_failed_repeat_is_left_out_and_one_run_stands_as_it_is() -> None:
    failed = {"accounts": 10_000, "error": "exit status 1"}
    run = median_run([failed, _run([1.0])])
    assert run["phases"][0]["cpu_s"] == 1.0
    assert run["failed_repeats"] == ["exit status 1"]
    assert median_run([failed]) is failed


def test_phases_are_matched_by_day_and_name_not_by_position() -> None:
    one, two = _run([1.0, 5.0]), _run([3.0, 7.0])
    two["phases"].reverse()
    run = median_run([one, two])
    assert [p["cpu_s"] for p in run["phases"]] == [2.0, 6.0]
