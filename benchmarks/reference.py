"""The machine around each flow: a fixed reference workload timed in the day's own process,
and the machine's and the vendor process's CPU from /proc.

This machine's per-core speed drifts over tens of minutes (the same 10k sync measured 1.9 s
of CPU one hour and 2.6 s the next, the machine three quarters idle), so a flow's CPU at
100k and at 10k, measured minutes apart, may compare two machines. The same work timed
beside every flow shows whether it did: each phase's CPU in the run's unit (``cpu_ref``)
and each growth ratio in it are printed beside the seconds. They are shown, not judged:
the timing also moves with the process's heap (inside one 10k run it rose from 0.037 to
0.056 s while a fresh process read 0.041-0.043 s; 0.037 s fresh, 0.053 s after churning
objects and keeping 240,000 of them, 0.037 s once they are freed). The
workload is the flows' kind of work (Python objects and strings, dicts, sorting, JSON, an
SQLite engine in process), fixed and deterministic; it is run a few times and the fastest
counts, since an interruption can only slow a run down.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

ROWS = 10_000
TRIES = 3
PROC = Path("/proc")


def reference_work(rows: int = ROWS) -> int:
    """The fixed workload; returns a checksum so none of it can be skipped."""
    records = [
        {"id": i, "email": f"person{(i * 7919) % 100_003}@example.com", "score": (i * 31) % 97}
        for i in range(rows)
    ]
    by_domain: dict[str, list[int]] = {}
    for r in records:
        by_domain.setdefault(r["email"][-11:] + str(r["score"] % 7), []).append(r["id"])
    ordered = sorted(records, key=lambda r: (r["score"], r["email"]))
    text = json.dumps(ordered)
    back = json.loads(text)
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, score INTEGER)")
        connection.executemany(
            "INSERT INTO t VALUES (?, ?, ?)", [(r["id"], r["email"], r["score"]) for r in back]
        )
        connection.execute("CREATE INDEX t_email ON t (email)")
        groups = connection.execute(
            "SELECT score, count(*), max(email) FROM t GROUP BY score ORDER BY score"
        ).fetchall()
    finally:
        connection.close()
    return len(text) + len(by_domain) + sum(n for _, n, _ in groups)


def reference_seconds(tries: int = TRIES) -> float:
    """The fastest of ``tries`` runs of the workload, in seconds of this process's CPU.
    The garbage collector is held off meanwhile: a collection it started would walk the
    flows' heap, which grows with the book, and the reference must not."""
    best = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(tries):
            started = time.process_time()
            reference_work()
            best = min(best, time.process_time() - started)
    finally:
        if enabled:
            gc.enable()
    return best


def machine_ticks(proc: Path = PROC) -> dict[str, int]:
    """The machine's CPU time so far, in clock ticks (all cores): busy, idle and steal (time
    a virtual machine's host gave to others). Empty where /proc/stat cannot be read."""
    try:
        first = (proc / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return {}
    values = [int(v) for v in first[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return {
        "busy": user + nice + system + irq + softirq,
        "idle": idle + iowait,
        "steal": steal,
    }


def process_ticks(pid: int, proc: Path = PROC) -> int | None:
    """A process's CPU (user and system) so far, in clock ticks; None where unreadable."""
    try:
        fields = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def _tick() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError):
        return 100.0


def machine_figures(
    before: dict[str, Any], after: dict[str, Any], cores: int | None = None
) -> dict[str, Any]:
    """What the machine did during a phase, from two samples of ``sample(pid)``: core
    seconds busy, idle and stolen, the busy share, and the vendor process's CPU seconds."""
    tick = _tick()
    out: dict[str, Any] = {}
    a, b = before.get("machine", {}), after.get("machine", {})
    if a and b:
        busy = (b["busy"] - a["busy"]) / tick
        idle = (b["idle"] - a["idle"]) / tick
        steal = (b["steal"] - a["steal"]) / tick
        total = busy + idle + steal
        out.update(
            {
                "busy_core_s": round(busy, 2),
                "steal_core_s": round(steal, 2),
                "busy_share": round(busy / total, 3) if total else None,
                "cores": cores or os.cpu_count(),
            }
        )
    if before.get("vendors") is not None and after.get("vendors") is not None:
        out["vendors_cpu_s"] = round((after["vendors"] - before["vendors"]) / tick, 2)
    return out


def sample(vendors_pid: int | None) -> dict[str, Any]:
    return {
        "machine": machine_ticks(),
        "vendors": process_ticks(vendors_pid) if vendors_pid is not None else None,
    }
