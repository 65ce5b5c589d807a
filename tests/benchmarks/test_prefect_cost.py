"""The benchmark judges Prefect's share by what each flow call spends outside its task
bodies; the body's measure must keep the body's own threads and leave out the threads that
were already running (Prefect's workers), or the share would be off in either direction."""

from __future__ import annotations

import inspect
import sys
import threading
import time
import types
from typing import Any

import pytest

from benchmarks.prefect_cost import TaskBodies, measure_flow_tasks
from benchmarks.targets import prefect_share, targets

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/task")


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class _Task:
    def __init__(self, fn: Any) -> None:
        self.fn = fn


@linux_only
def test_a_body_counts_its_own_threads_and_not_the_ones_running_before_it() -> None:
    stop = threading.Event()

    def background() -> None:  # stands for Prefect's log and event workers
        while not stop.is_set():
            _burn(0.005)

    worker = threading.Thread(target=background, name="prefect-like", daemon=True)
    worker.start()

    def body(x: int) -> int:
        helper = threading.Thread(target=_burn, args=(0.15,))  # the body's own reader
        helper.start()
        _burn(0.15)
        helper.join()
        return x + 1

    task = _Task(body)
    bodies = TaskBodies()
    bodies.wrap(task)
    try:
        assert task.fn(1) == 2
    finally:
        stop.set()
        worker.join()
    taken = bodies.take()
    assert taken["task_bodies"] == 1
    # 0.30 s of the body's two threads; the background thread spent about half as much
    # meanwhile, which would show above the upper bound if it were counted.
    assert 0.27 <= taken["task_cpu_s"] <= 0.36, taken
    doubts = bodies.doubts()
    assert "prefect-like" in doubts["threads"]
    assert doubts["overlapped"] == doubts["threads_unreadable"] == 0
    assert bodies.take()["task_cpu_s"] == 0.0


def test_a_wrapped_prefect_task_keeps_its_signature_and_a_second_measure_takes_over() -> None:
    from prefect import task

    @task
    def add(a: int, b: int = 2) -> int:
        return a + b

    original = add.fn
    module = types.ModuleType("flows_like")
    module.add = add  # type: ignore[attr-defined]
    try:
        first = measure_flow_tasks([module])
        second = measure_flow_tasks([module])
        assert add.fn(1, b=3) == 4  # the flow engine calls .fn with the bound parameters
        assert second.take()["task_bodies"] == 1
        assert first.take()["task_bodies"] == 0
        assert list(inspect.signature(add.fn).parameters) == ["a", "b"]
    finally:
        add.fn = original


def _run(mode: str, phases: list[tuple[str, str, float, float, float, float]]) -> dict[str, Any]:
    rows = []
    for day, name, wall, cpu, task_wall, task_cpu in phases:
        row: dict[str, Any] = {"day": day, "name": name, "flow": True, "wall_s": wall}
        row.update({"cpu_s": cpu, "peak_rss_mb": 100.0})
        if mode == "prefect":
            row.update({"task_wall_s": task_wall, "task_cpu_s": task_cpu, "task_bodies": 1})
        rows.append(row)
    return {"accounts": 100_000, "database": "postgresql", "mode": mode, "phases": rows}


PLAIN = [("first", "sync-crm", 100, 20, 0, 0), ("steady", "sync-crm", 10, 5, 0, 0)]
FLOWS = [("first", "sync-crm", 104, 22, 102, 21.5), ("steady", "sync-crm", 11, 5.5, 10, 5.0)]


def _verdict(share: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in targets([], share, []) if t["target"].startswith("Prefect share"))


def test_the_share_is_what_the_flow_calls_spend_outside_their_bodies() -> None:
    share = prefect_share(_run("plain", PLAIN), _run("prefect", FLOWS), [])
    assert share["cpu_prefect_s"] == pytest.approx(1.0)
    assert share["cpu_share"] == pytest.approx(1.0 / 27.5)
    assert share["wall_share"] == pytest.approx(3.0 / 115)
    assert share["ab_cpu_share"] == pytest.approx(2.5 / 27.5)
    assert share["measured_flows"] == 2
    assert _verdict(share)["result"] == "pass"


def test_a_split_that_cannot_be_trusted_fails_and_a_small_book_is_not_judged() -> None:
    flows = _run("prefect", FLOWS)
    flows["prefect_doubts"] = {"overlapped": 1}
    assert _verdict(prefect_share(_run("plain", PLAIN), flows, []))["result"] == "FAIL"
    unmeasured = _run("prefect", FLOWS)
    unmeasured["phases"][1]["task_bodies"] = 0
    verdict = _verdict(prefect_share(_run("plain", PLAIN), unmeasured, []))
    assert verdict["result"] == "FAIL" and "not measured" in verdict["figure"]
    small = _run("prefect", FLOWS) | {"accounts": 10_000}
    assert _verdict(prefect_share(_run("plain", PLAIN), small, []))["result"] == "n/a"
