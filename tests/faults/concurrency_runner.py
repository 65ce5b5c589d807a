"""Program days run by several processes at once, as overlapping schedulers or workers would.

A ``Runner`` starts its processes once (``multiprocessing`` with *spawn*: each has its own
interpreter, its own database connections and no GIL shared with the others) and keeps them
for the whole test, because importing the program costs seconds and a test runs many days.
For each day the test names how many of them run it; those wait at a barrier and then all
call the same plain function at the same moment, so their transactions really interleave.

Each process reads its configuration from the environment it is given (the world's database
and vendor servers), exactly as a flow run on a worker would.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier
from typing import Any

# How long one process may take over a day (or wait for the others at the barrier) before
# the test gives up on it: far above a day's few seconds, so only a hang or deadlock hits it.
DAY_TIMEOUT = 240.0
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Outcome:
    """What one process said about one job: its counts, or the traceback that stopped it."""

    worker: int
    counts: dict[str, int]
    error: str | None
    started: float  # wall clock (time.time()), comparable across processes
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def _program_day_job(day: datetime) -> dict[str, int]:
    """The crash suite's program day (tests.faults.driver), in this process."""
    from core.settings import Settings
    from db.engine import session_factory
    from domain.program import load_program
    from integrations.wiring import build_adapters
    from tests.faults import driver

    settings = Settings()
    factory = session_factory(settings.resolved_database_url)
    program = load_program(settings.program_file)
    adapters = build_adapters(settings, factory)
    done = driver.program_day(
        factory, program, settings, adapters, day, driver.policy_for(settings, run=0)
    )
    return dict(done)


def _release_rewards_job(day: datetime) -> dict[str, int]:
    """release-rewards' plain function alone, as its deployment would run it."""
    from core.settings import Settings
    from db.engine import session_factory
    from domain.program import load_program
    from tasks.rewards.release import release_rewards

    settings = Settings()
    factory = session_factory(settings.resolved_database_url)
    report = release_rewards(factory, load_program(settings.program_file), settings, day)
    return dict(report.counts)


JOBS: dict[str, Callable[[datetime], dict[str, int]]] = {
    "program-day": _program_day_job,
    "release-rewards": _release_rewards_job,
}


def _serve(
    worker: int, env: Mapping[str, str], conn: Connection, barriers: Mapping[int, Barrier]
) -> None:
    """A process's loop: ``(job, day, parties, delay)`` in, an ``Outcome`` out; ``None`` ends
    it. ``delay`` seconds after the barrier it starts: 0 for all at once, or staggered, so
    that one run is in a later flow while another is still in an earlier one, as schedules
    with different crons would have them."""
    os.environ.update(env)
    # Import the program before saying ready, so the barrier is not spent importing.
    import tests.faults.driver  # noqa: F401

    conn.send("ready")
    while (request := conn.recv()) is not None:
        job, day, parties, delay = request
        error, counts, started = None, {}, time.time()
        try:
            barriers[parties].wait(DAY_TIMEOUT)
            time.sleep(delay)
            started = time.time()
            counts = JOBS[job](day)
        except BaseException:  # reported to the test, which fails with it
            error = traceback.format_exc()
        conn.send(Outcome(worker, counts, error, started, time.time()))


def overlap(outcomes: Sequence[Outcome]) -> float:
    """Seconds during which at least two of the runs were running."""
    edges = sorted([(o.started, 1) for o in outcomes] + [(o.ended, -1) for o in outcomes])
    running, since, total = 0, 0.0, 0.0
    for at, step in edges:
        if running >= 2:
            total += at - since
        running, since = running + step, at
    return total


class Runner:
    """``size`` processes for one world's environment; ``run(job, day, parties)`` makes the
    first ``parties`` of them run the job together."""

    def __init__(self, env: Mapping[str, str], size: int) -> None:
        context = get_context("spawn")
        self.barriers = {n: context.Barrier(n) for n in range(1, size + 1)}
        self.processes: list[BaseProcess] = []
        self.conns: list[Connection] = []
        for worker in range(size):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(worker, dict(env), theirs, self.barriers),
                name=f"concurrency-{worker}",
                daemon=True,  # never outlives the test run, whatever happens
            )
            process.start()
            theirs.close()
            self.processes.append(process)
            self.conns.append(ours)
        for conn in self.conns:
            if not conn.poll(START_TIMEOUT):
                self.close()
                raise TimeoutError("a concurrency process did not start")
            assert conn.recv() == "ready"

    def run(
        self, job: str, day: datetime, parties: int, delays: Sequence[float] = ()
    ) -> list[Outcome]:
        assert 1 <= parties <= len(self.conns), parties
        for i, conn in enumerate(self.conns[:parties]):
            conn.send((job, day, parties, delays[i] if i < len(delays) else 0.0))
        outcomes = []
        for conn in self.conns[:parties]:
            if not conn.poll(DAY_TIMEOUT + 30):
                raise TimeoutError(f"{job} of {day.date()} did not end: a hang or a deadlock")
            outcomes.append(conn.recv())
        return outcomes

    def close(self) -> None:
        """Stop every process and check none is left."""
        for conn in self.conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
        for process in self.processes:
            process.join(30)
            if process.is_alive():  # only ours, by its pid
                process.kill()
                process.join(10)
        for conn in self.conns:
            conn.close()
        assert not any(p.is_alive() for p in self.processes), "a process was left behind"

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
