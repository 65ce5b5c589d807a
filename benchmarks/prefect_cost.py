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
from types import ModuleType
from typing import Any


def _thread_cpu_s(native_id: int) -> float | None:
    """A live thread's CPU time (Linux schedstat, nanoseconds); None once it has ended or
    where the kernel does not say."""
    try:
        return int(Path(f"/proc/self/task/{native_id}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


class TaskBodies:
    """Wraps the flows' task functions and adds up what their bodies cost.

    A body's CPU is the process's CPU over the body minus what the threads already running
    when it started (Prefect's event loop, log and event workers, a flow run's heartbeat)
    spent meanwhile: the threads the body starts itself (the CRM reader) are ours and stay
    in. What could make that split wrong is recorded, not guessed: threads that appeared
    during a body (``new_threads``: ours, or Prefect's started mid-body), threads that ended
    during one or could not be read, and bodies that overlapped (each would count the
    other's threads)."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.bodies = 0
        self.other_threads: set[str] = set()
        self.new_threads: set[str] = set()
        self.threads_ended = 0  # ended during a body: their CPU meanwhile counted as ours
        self.threads_unreadable = 0  # no CPU figure at the start: the split cannot be made
        self.overlapped = 0
        self._active = 0
        self._lock = threading.Lock()

    def wrap(self, task: Any) -> None:
        fn: Callable[..., Any] = getattr(task.fn, "__wrapped__", task.fn)

        @functools.wraps(fn)
        def measured(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._active += 1
                self.overlapped += self._active > 1
            me = threading.get_ident()
            others = {
                t.native_id: t.name
                for t in threading.enumerate()
                if t.ident != me and t.native_id is not None
            }
            before = {native_id: _thread_cpu_s(native_id) for native_id in others}
            wall0, cpu0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                theirs, ended, unreadable = 0.0, 0, 0
                for native_id, was in before.items():
                    now = _thread_cpu_s(native_id)
                    if was is None:
                        unreadable += 1
                    elif now is None:
                        ended += 1
                    else:
                        theirs += now - was
                new = {t.name for t in threading.enumerate() if t.native_id not in others}
                with self._lock:
                    self._active -= 1
                    self.cpu_s += max(0.0, cpu - theirs)
                    self.wall_s += wall
                    self.bodies += 1
                    self.other_threads.update(others.values())
                    self.new_threads.update(new - {threading.current_thread().name})
                    self.threads_ended += ended
                    self.threads_unreadable += unreadable

        task.fn = measured

    def take(self) -> dict[str, float | int]:
        """What the bodies cost since the last take."""
        with self._lock:
            out: dict[str, float | int] = {
                "task_cpu_s": round(self.cpu_s, 3),
                "task_wall_s": round(self.wall_s, 3),
                "task_bodies": self.bodies,
            }
            self.cpu_s = self.wall_s = 0.0
            self.bodies = 0
        return out

    def doubts(self) -> dict[str, Any]:
        return {
            "threads": sorted(self.other_threads),
            "new_threads": sorted(self.new_threads),
            "threads_ended": self.threads_ended,
            "threads_unreadable": self.threads_unreadable,
            "overlapped": self.overlapped,
        }


def measure_flow_tasks(modules: list[ModuleType]) -> TaskBodies:
    """Every Prefect task the given flow modules call, wrapped (a task wrapped before is
    wrapped again around its own function, so only the new measure counts it)."""
    from prefect import Task

    bodies = TaskBodies()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Task):
                bodies.wrap(value)
    return bodies
