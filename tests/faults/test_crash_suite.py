"""The crash suite: the program day killed with SIGKILL, rerun, compared with a run that was
never killed.

Two worlds from one generated book and seed, each with its own database and its own local
HubSpot, SendGrid and Slack servers (the real SDKs talk to them; HubSpot is the CRM, so
sync-crm reads over the wire too). Both live the same warm-up days (no kills) until referrals,
deals and rewards are in flight. Then, for the suite's days, the uninterrupted world runs its
program day once; the crashed world runs it in a subprocess (``tests.faults.driver``, in a
session of its own) that is killed with SIGKILL: at a random moment, or right before or right
after its Nth vendor call (a read or a write), and run again until the day completes. In the
end both worlds must hold the same referrals, rewards, reward ledger, asks and outbox (by
stable keys and final status), and their vendors the same emails, Slack messages and CRM
records: no key delivered twice (counted at the servers) and none the uninterrupted run
delivered missing. A killed run leaves no process behind.

``REFERRALS_CRASH_KILLS`` (default 25) sets the number of kills; the benchmark runs 100.
``REFERRALS_CRASH_REPORT=path.json`` writes the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.wiring import build_adapters
from simulation.book import generate_book
from tests.conftest import _copy_database
from tests.faults import driver
from tests.faults.compare import DELIVERIES, duplicates, losses, snapshot
from tests.faults.world import World, day_at

ROOT = Path(__file__).resolve().parents[2]
SEED = 13
ACCOUNTS = 40
WARM_UP_DAYS = 10  # until referrals are pushed, deals won and rewards accrued
SUITE_DAYS = 6  # rewards approved, released, thanked, queued for payout and exported
KILLS = int(os.environ.get("REFERRALS_CRASH_KILLS", "25"))
# How the kills are aimed, in turn: at a vendor write, at any vendor call, at a random time.
AIMS = ("before:write", "after:write", "random", "before:any", "after:any")
LAUNCH_TIMEOUT = 120.0


@pytest.fixture
def two_urls(postgres, template_url, tmp_path) -> Iterator[tuple[str, str]]:
    first = _copy_database(postgres, template_url, tmp_path / "uninterrupted")
    second = _copy_database(postgres, template_url, tmp_path / "crashed")
    (tmp_path / "uninterrupted").mkdir()
    (tmp_path / "crashed").mkdir()
    yield next(first), next(second)
    for copy in (first, second):
        next(copy, None)


@dataclass
class Calls:
    """Vendor calls as the servers saw them: all of them, and the writes."""

    any: int = 0
    write: int = 0

    @classmethod
    def at(cls, world: World) -> Calls:
        calls = [("hubspot", r.method, r.path) for r in world.hubspot.requests]
        calls += [("sendgrid", r.method, r.path) for r in world.sendgrid.requests]
        calls += [("slack", c.http_method, f"/api/{c.method_name}") for c in world.slack.calls]
        return cls(len(calls), sum(driver.is_write(*c) for c in calls))

    def __sub__(self, other: Calls) -> Calls:
        return Calls(self.any - other.any, self.write - other.write)


@dataclass
class Figures:
    kills: int = 0
    launches: int = 0
    sites: Counter[str] = field(default_factory=Counter)  # where the kills landed
    resolved_in_doubt: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Launch:
    killed: bool
    site: str
    output: str


class Zygote:
    """``tests.faults.driver --serve``: the program imported once, a forked child per run."""

    def __init__(self, log: Path) -> None:
        self.log = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.driver", "--serve"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
        )
        self.buffer = b""

    def start(self, day: datetime, env: dict[str, str]) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"day": day.isoformat(), "env": env}).encode() + b"\n")
        self.process.stdin.flush()
        line = self.readline()
        assert line.startswith("pid "), line
        return int(line.split()[1])

    def readline(self) -> str:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + LAUNCH_TIMEOUT
        while b"\n" not in self.buffer:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("the driver said nothing")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(self.log.name)
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.log.close()
        with pytest.raises(ProcessLookupError):
            os.killpg(self.process.pid, 0)


def launch(
    zygote: Zygote, world: World, day: datetime, aim: str, number: int, run: int, delay: float
) -> Launch:
    """One program day in a session of its own; ``aim`` "random" kills its process group
    ``delay`` seconds into the day, the others let the driver kill itself at its Nth call."""
    journal = world.folder / "journal.log"
    journal.write_text("")
    env = {
        **world.env(),
        driver.KILL_ENV: "" if aim == "random" or not number else f"{aim}:{number}",
        driver.RUN_ENV: str(run),
        driver.JOURNAL_ENV: str(journal),
    }
    pid = zygote.start(day, env)
    said = [zygote.readline()]
    if aim == "random" and said[0] == driver.READY:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # it may have finished first
            os.killpg(pid, signal.SIGKILL)
    while not said[-1].startswith(f"exit {pid} "):
        said.append(zygote.readline())
    code = int(said[-1].split()[2])
    with pytest.raises(ProcessLookupError):  # nothing of the run is left behind
        os.killpg(pid, 0)
    killed = code == -signal.SIGKILL
    assert killed or code == 0, (code, said, Path(zygote.log.name).read_text()[-3000:])
    lines = journal.read_text().splitlines()
    site = next((line for line in reversed(lines) if line.endswith(" KILL")), "")
    if killed and not site:  # a random kill: what it was doing (or between vendor calls)
        site = f"random, last: {lines[-1] if lines else 'no vendor call yet'}"
    return Launch(killed, site, "\n".join(said))


def program_day_in_process(world: World, day: datetime) -> float:
    """The uninterrupted run's program day: the driver's function, in this process."""
    settings = world.settings()
    started = time.perf_counter()
    driver.program_day(
        world.factory,
        world.program,
        settings,
        build_adapters(settings, world.factory),
        day,
        driver.policy_for(settings, run=0),
    )
    return time.perf_counter() - started


def live_day(world: World, day: datetime, program_day: Any) -> Any:
    """The people act, the program runs its day, finance decides: the demo's order."""
    world.clock[0] = day + timedelta(hours=9)
    world.people_act(day)
    world.clock[0] = day + timedelta(hours=10)
    result = program_day(world, day)
    world.clock[0] = day + timedelta(hours=15)
    world.finance_decides(day + timedelta(hours=15))
    return result


def crashed_day(
    zygote: Zygote,
    world: World,
    day: datetime,
    quota: int,
    expected: Calls,
    seconds: float,
    rng: random.Random,
    figures: Figures,
) -> None:
    """Kill the day ``quota`` times (each aim in turn), rerunning it each time, then let a
    run complete; what the outbox parked in doubt a person resolves, and the day runs again."""
    before = Calls.at(world)
    kills, completed, launches = 0, False, 0
    # A plan that does not fire lets the day complete; the day is then killed again on a
    # rerun (which must change nothing) until its quota is met.
    while not (completed and kills >= quota) and launches < 3 * quota + 2:
        aim, number, delay = "", 0, 0.0
        if kills < quota:
            aim = AIMS[figures.kills % len(AIMS)]
            done = Calls.at(world) - before
            if aim.endswith(":write") and (completed or expected.write - done.write < 1):
                aim = aim.replace("write", "any")  # no write left today: aim at a read
            left = expected.write - done.write if aim.endswith(":write") else expected.any // 3
            number = rng.randint(1, max(1, left))
            delay = rng.uniform(0.0, seconds)
        result = launch(zygote, world, day, aim, number, figures.launches + 1, delay)
        launches += 1
        figures.launches += 1
        if not result.killed:
            completed = True
            continue
        kills += 1
        figures.kills += 1
        figures.sites[_site(result.site)] += 1
        completed = False
    if not completed:  # the last launch was killed: the day still runs to its end
        assert not launch(zygote, world, day, "", 0, figures.launches + 1, 0.0).killed
        figures.launches += 1
    settled = world.resolve_in_doubt(day + timedelta(hours=10))
    if settled:
        figures.resolved_in_doubt += [f"{day.date()} {s}" for s in settled]
        assert not launch(zygote, world, day, "", 0, figures.launches + 1, 0.0).killed
        figures.launches += 1


def _site(line: str) -> str:
    """``before sendgrid POST /v3/mail/send write 3 KILL`` -> ``before sendgrid write``."""
    if line.startswith("random"):
        return "random moment"
    when, vendor, _, _, kind, *_ = line.split()
    return f"{when} {vendor} {kind}"


def test_killed_program_days_end_as_the_uninterrupted_run(two_urls, tmp_path) -> None:
    started = time.perf_counter()
    book = generate_book(seed=SEED, accounts=ACCOUNTS, days=WARM_UP_DAYS + SUITE_DAYS)
    clean = World(two_urls[0], tmp_path / "uninterrupted" / "world", book, SEED)
    crashed = World(two_urls[1], tmp_path / "crashed" / "world", book, SEED)
    figures = Figures()
    rng = random.Random(SEED)
    zygote = Zygote(tmp_path / "driver.log")
    try:
        for world in (clean, crashed):
            world.set_up()
            for offset in range(WARM_UP_DAYS):
                live_day(world, day_at(book.start, offset), program_day_in_process)
        for offset in range(WARM_UP_DAYS, WARM_UP_DAYS + SUITE_DAYS):
            day = day_at(book.start, offset)
            before = Calls.at(clean)
            seconds = live_day(clean, day, program_day_in_process)
            expected = Calls.at(clean) - before
            days_left = WARM_UP_DAYS + SUITE_DAYS - offset
            quota = -(-(KILLS - figures.kills) // days_left)  # what is left, spread evenly

            def killed_and_rerun(world: World, day: datetime) -> None:
                crashed_day(zygote, world, day, quota, expected, seconds, rng, figures)  # noqa: B023

            live_day(crashed, day, killed_and_rerun)

        expected_state, state = snapshot(clean), snapshot(crashed)
    finally:
        zygote.close()
        clean.close()
        crashed.close()
    figures.seconds = time.perf_counter() - started
    _report(figures, expected_state, state)

    assert figures.kills >= KILLS, figures
    assert duplicates(expected_state) == {}
    assert duplicates(state) == {}, "delivered twice"
    assert losses(expected_state, state) == {}, "lost"
    assert expected_state["emails"] and expected_state["slack"] and expected_state["crm tasks"]
    assert any(w[0] == "released" for w in expected_state["rewards"].values())
    for part in ("referrals", "rewards", "ledger", "asks", "outbox", *DELIVERIES):
        assert state[part] == expected_state[part], part


def _report(figures: Figures, expected: dict[str, Any], state: dict[str, Any]) -> None:
    found = {
        "kills": figures.kills,
        "launches": figures.launches,
        "kill sites": dict(sorted(figures.sites.items())),
        "resolved by a person (in doubt)": figures.resolved_in_doubt,
        "duplicates": duplicates(state),
        "losses": losses(expected, state),
        "deliveries compared": {part: sum(expected[part].values()) for part in DELIVERIES},
        "seconds": round(figures.seconds, 1),
    }
    print("\ncrash suite:", json.dumps(found, indent=1, default=str))
    if path := os.environ.get("REFERRALS_CRASH_REPORT"):
        Path(path).write_text(json.dumps(found, indent=1, default=str) + "\n")
