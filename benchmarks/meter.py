"""Measuring one benchmark phase: the vendor process (``benchmarks.vendors``) and its command
channel, whose counters give a phase's API calls, and the meter that times the phase (wall,
our CPU, peak memory, the garbage collector) with the machine around it
(``benchmarks.reference``)."""

from __future__ import annotations

import contextlib
import cProfile
import gc
import io
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.book import DAYS, SEED, team_for
from benchmarks.reference import machine_figures, reference_seconds, sample
from simulation.team_file import APPROVER_EMAIL, APPROVER_SLACK_ID


class Vendors:
    """The vendor process (benchmarks.vendors) and its command channel."""

    def __init__(self, accounts: int, calls_per_10s: int | None) -> None:
        config = {
            "seed": SEED,
            "accounts": accounts,
            "days": DAYS,
            "team": team_for(accounts),
            "calls_per_10s": calls_per_10s,
            "slack_users": [[APPROVER_EMAIL, APPROVER_SLACK_ID]],
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.vendors", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the vendor servers did not start")
        self.urls: dict[str, str] = json.loads(line)

    def ask(self, cmd: str, **args: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.ask("quit")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _reset_peak_rss() -> bool:
    """Linux resets a process's peak RSS (VmHWM) when 5 is written to clear_refs."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


class Meter:
    """Measures one phase: wall, our CPU (user and system), peak RSS, garbage collection,
    the vendor calls it made, and the machine around it (benchmarks.reference): the
    reference workload timed before and after, the machine's busy and stolen core time and
    the vendor process's CPU during it."""

    def __init__(self, vendors: Vendors, profile_dir: Path | None) -> None:
        self.vendors = vendors
        self.profile_dir = profile_dir
        self.phases: list[dict[str, Any]] = []
        self.references: list[float] = []
        self.gc_seconds = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def in_reference_unit(self) -> dict[str, Any]:
        """Each phase's CPU in the run's reference unit (``cpu_ref``, shown beside the
        seconds): the median of every reference timing the run took, two per phase, since
        one timing wanders by a tenth from the next."""
        if not self.references:
            return {}
        unit = statistics.median(self.references)
        for phase in self.phases:
            phase["cpu_ref"] = round(phase["cpu_s"] / unit, 2)
        return {
            "reference_s": round(unit, 5),
            "reference_range_s": [round(min(self.references), 5), round(max(self.references), 5)],
        }

    def _gc(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.gc_seconds += time.process_time() - self._gc_started

    def run(self, day: str, name: str, fn: Callable[[], Any], flow: bool = True) -> Any:
        reference_before = reference_seconds()
        before = self.vendors.ask("counts")
        exact_peak = _reset_peak_rss()
        machine_before = sample(self.vendors.process.pid)
        gc0 = self.gc_seconds
        # CPU, not wall: the target is our CPU, and waits on sockets would crowd the profile.
        profiler = cProfile.Profile(time.process_time) if self.profile_dir else None
        usage0 = resource.getrusage(resource.RUSAGE_SELF)  # before the clocks: not timed
        wall0, cpu0, started = time.perf_counter(), time.process_time(), time.time()
        if profiler:
            profiler.enable()
        result = fn()
        if profiler:
            profiler.disable()
        wall, cpu, ended = time.perf_counter() - wall0, time.process_time() - cpu0, time.time()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        machine = machine_figures(machine_before, sample(self.vendors.process.pid))
        after = self.vendors.ask("counts")
        peak = self.vendors.ask("peak", since=started, until=ended)["peak"]
        hub_b, hub_a = before["hubspot"], after["hubspot"]
        phase = {
            "day": day,
            "name": name,
            "flow": flow,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "gc_s": round(self.gc_seconds - gc0, 3),  # of cpu_s: the collector's share
            # of cpu_s: in our code and libraries, and in the kernel on our behalf (sockets)
            "user_s": round(usage.ru_utime - usage0.ru_utime, 3),
            "system_s": round(usage.ru_stime - usage0.ru_stime, 3),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "peak_rss_exact": exact_peak,
            "machine": machine,
            "hubspot": {
                "calls": _delta(hub_a["calls"], hub_b["calls"]),
                "rejected_429": _delta(hub_a["rejected"], hub_b["rejected"]),
                "items": _delta(hub_a["items"], hub_b["items"]),
                "peak_calls_in_10s": peak,
            },
            "sendgrid": {
                "calls": _delta(after["sendgrid"]["calls"], before["sendgrid"]["calls"]),
                "accepted": after["sendgrid"]["accepted"] - before["sendgrid"]["accepted"],
            },
            "slack": {
                "calls": _delta(after["slack"]["calls"], before["slack"]["calls"]),
                "post_channels": _delta(
                    after["slack"]["post_channels"], before["slack"]["post_channels"]
                ),
            },
        }
        reference_after = reference_seconds()
        self.references += [reference_before, reference_after]
        phase["reference_s"] = round((reference_before + reference_after) / 2, 5)
        # What the process still holds after the phase (containers the collector tracks,
        # frozen ones included): a heap full of live objects slows all later work, the
        # reference's included (benchmarks.reference).
        phase["live_objects_after"] = len(gc.get_objects()) + gc.get_freeze_count()
        if profiler and self.profile_dir:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            path = self.profile_dir / f"{day}-{name}.txt"
            path.write_text(out.getvalue())
            profiler.dump_stats(path.with_suffix(".prof"))  # to sort another way later
            phase["profile"] = str(path)
        self.phases.append(phase)
        print(f"  {day:6} {name:22} wall {wall:7.2f} s  cpu {cpu:7.2f} s", file=sys.stderr)
        return result
