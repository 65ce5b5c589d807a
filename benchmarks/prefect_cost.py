"""Prefect's own cost in the Prefect run, measured directly: the CPU and wall time spent
inside the flows' task functions is the engine's work; the rest of each flow call is
Prefect's (flow and task runs, states, artifacts, logs, its background threads).

Comparing the Prefect run with the plain run also gives a figure, but two 100k days on one
machine differ by several per cent in every flow, Prefect or not, so that difference measures
the machine as much as Prefect. Both are reported; this one is judged.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _thread_cpu_s(native_id: int) -> float | None:
    """A live thread's CPU time (Linux schedstat, nanoseconds); None once it has ended."""
    try:
        return int(Path(f"/proc/self/task/{native_id}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


class TaskBodies:
    """Wraps the flows' task functions and adds up what their bodies cost.

    A body's CPU is the process's CPU over the body minus what the threads already running
    when it started (Prefect's event loop, log and event workers) spent meanwhile: the threads
    the body starts itself (the CRM reader) are ours and stay in."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.bodies = 0
        self.other_threads: set[str] = set()
        self.threads_lost = 0  # background threads that ended during a body: their CPU stays ours

    def wrap(self, task: Any) -> None:
        fn: Callable[..., Any] = task.fn
        if getattr(fn, "_bench_measured", False):
            return

        @functools.wraps(fn)
        def measured(*args: Any, **kwargs: Any) -> Any:
            me = threading.get_ident()
            others = [t for t in threading.enumerate() if t.ident != me and t.native_id]
            self.other_threads.update(t.name for t in others)
            before = {t.native_id: _thread_cpu_s(t.native_id) for t in others}  # type: ignore[arg-type]
            wall0, cpu0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                cpu = time.process_time() - cpu0
                self.wall_s += time.perf_counter() - wall0
                theirs = 0.0
                for native_id, was in before.items():
                    now = _thread_cpu_s(native_id)  # type: ignore[arg-type]
                    if was is None or now is None:
                        self.threads_lost += 1
                        continue
                    theirs += now - was
                self.cpu_s += max(0.0, cpu - theirs)
                self.bodies += 1

        measured._bench_measured = True  # type: ignore[attr-defined]
        task.fn = measured

    def take(self) -> dict[str, float | int]:
        """What the bodies cost since the last take."""
        out = {"task_cpu_s": round(self.cpu_s, 3), "task_wall_s": round(self.wall_s, 3)}
        out["task_bodies"] = self.bodies
        self.cpu_s = self.wall_s = 0.0
        self.bodies = 0
        return out


def measure_flow_tasks(modules: list[Any]) -> TaskBodies:
    """Every Prefect task the given flow modules call, wrapped."""
    from prefect import Task

    bodies = TaskBodies()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Task):
                bodies.wrap(value)
    return bodies
