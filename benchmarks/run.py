"""``make bench``: the program day at 10k and 100k accounts on SQLite and PostgreSQL, with the
real adapters against local vendor servers; a table with each target's pass/fail, and
``bench/results.json`` with every figure.

    python -m benchmarks.run --sizes 10000,100000 --databases sqlite,postgresql
    python -m benchmarks.run --sizes 1000 --skip-suites          # a quick look (~1 min)

Each size and database runs in a process of its own (benchmarks.day), so one run's imports,
caches and memory do not flatter the next. The sizes take turns (10k, 100k, 10k, 10k): this
machine's speed drifts over the minutes between them. A reference workload is timed beside
every flow (benchmarks.reference) and each growth ratio is also shown in its unit.

Prefect's share is measured once, at the largest size (on PostgreSQL when it is chosen), by
running the same day through the ``@flow`` functions against a Prefect server started here,
and comparing with the plain functions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.day import FLOWS, HUBSPOT_CALLS_PER_10S
from benchmarks.targets import day_totals, minimum_calls, prefect_share, rate_share, targets

ROOT = Path(__file__).resolve().parent.parent
# The suites others write; run with the benchmark's larger knobs when they exist.
SUITES = (
    (
        "crash, vendor faults, concurrency",
        "tests/faults",
        {
            "REFERRALS_CRASH_KILLS": "100",
            "REFERRALS_FAULT_ACCOUNTS": "200",
            "REFERRALS_FAULT_ROUNDS": "6",
        },
    ),
    # the bench profile: at least 1,000 cases per input (deep, twenty times the default,
    # is there for a long night)
    (
        "concurrency (PostgreSQL)",
        "tests/faults/test_concurrency.py",
        {
            "DATABASE_URL": os.environ.get(
                "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
            ),
            "REFERRALS_CONCURRENCY_DAYS": "24",
            "REFERRALS_CONCURRENCY_ACCOUNTS": "200",
            "REFERRALS_WORKERS_TEST": "1",
        },
    ),
    ("bad input", "tests/properties", {"HYPOTHESIS_PROFILE": "bench"}),
    ("security", "tests/security", {"HYPOTHESIS_PROFILE": "bench"}),
)


# -- running -------------------------------------------------------------------------------


def run_day(config: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    label = f"{config['accounts']} accounts, {config['database']}, {config['mode']}"
    print(f"== {label}", file=sys.stderr, flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.day", json.dumps(config)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {**config, "error": f"exit status {done.returncode}"}
    return json.loads(lines[-1])


def run_order(
    sizes: list[int], databases: list[str], repeat_small: int, repeat_large: int
) -> list[tuple[int, str]]:
    """The runs in the order they are made: database by database, the sizes' repeats taken
    in turns (10k, 100k, 10k, 10k rather than 10k, 10k, 10k, 100k), so the smaller size is
    measured on both sides of the larger one and a drift of the machine's speed between
    them does not land on one side of a growth ratio."""
    largest = max(sizes)
    order = []
    for database in databases:
        left = {s: max(1, repeat_large if s == largest else repeat_small) for s in sizes}
        while any(left.values()):
            for size in sizes:
                if left[size]:
                    order.append((size, database))
                    left[size] -= 1
    return order


def median_run(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """One run of a size standing for its repeats: each phase's wall, CPU and CPU in the
    reference's unit (``cpu_ref``) the median of the repeats' (each repeat's kept beside
    it). The work (records, API calls) is the same in every repeat, so the rest is the
    first one's: its ``gc_s``, ``user_s``/``system_s``, ``machine`` and peak memory are that
    run's, not medians. A failed repeat is named in ``failed_repeats``."""
    done = [r for r in repeats if "phases" in r]
    failed = [r.get("error", "failed") for r in repeats if "phases" not in r]
    if not done:
        return repeats[0]
    first = done[0]
    phases = []
    for phase in first["phases"]:
        key = (phase["day"], phase["name"])
        same = [p for r in done for p in r["phases"] if (p["day"], p["name"]) == key]
        # The reference unit only when every repeat has it, else none (not the first one's).
        merged = {
            **{k: v for k, v in phase.items() if k != "cpu_ref"},
            "wall_s": round(statistics.median(p["wall_s"] for p in same), 3),
            "cpu_s": round(statistics.median(p["cpu_s"] for p in same), 3),
            "wall_s_repeats": [p["wall_s"] for p in same],
            "cpu_s_repeats": [p["cpu_s"] for p in same],
        }
        if all(p.get("cpu_ref") is not None for p in same):
            merged["cpu_ref"] = round(statistics.median(p["cpu_ref"] for p in same), 2)
            merged["cpu_ref_repeats"] = [p["cpu_ref"] for p in same]
        if all("reference_s" in p for p in same):
            merged["reference_s_repeats"] = [p["reference_s"] for p in same]
        phases.append(merged)
    return {
        **first,
        "phases": phases,
        "repeats": len(done),
        "failed_repeats": failed,
        "reference_s_repeats": [r.get("reference_s") for r in done],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrefectServer:
    """``prefect server start`` in a process group of its own, with its own PREFECT_HOME."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # Recording throughput settings measured in PREFECT-NOTES (4 times the defaults).
            "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
            "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "50",
            "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "200",
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "50",
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        self.log = (self.home / "server.log").open("w")
        self.process = subprocess.Popen(
            [
                *(str(Path(sys.executable).parent / "prefect"), "server", "start"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped as a whole, and only it
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"the Prefect server did not start (log: {self.home}/server.log)")

    def client_env(self) -> dict[str, str]:
        return {
            "PREFECT_API_URL": self.api,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }

    def task_runs_per_flow_run(self) -> list[dict[str, Any]]:
        """Every flow run, oldest first, with its flow's name and its task runs, once the
        server has recorded them all (its recorder lags behind the runs)."""
        flows = {f["id"]: f["name"] for f in httpx.post(f"{self.api}/flows/filter", json={}).json()}
        runs = httpx.post(
            f"{self.api}/flow_runs/filter", json={"sort": "EXPECTED_START_TIME_ASC"}
        ).json()
        previous: list[int] | None = None
        deadline = time.monotonic() + 120
        while True:
            counts = [
                httpx.post(
                    f"{self.api}/task_runs/count",
                    json={"flow_runs": {"id": {"any_": [r["id"]]}}},
                ).json()
                for r in runs
            ]
            if counts == previous or time.monotonic() > deadline:
                break
            previous = counts
            time.sleep(3)
        return [
            {"flow": flows.get(r["flow_id"], "?"), "state": r.get("state_type"), "task_runs": n}
            for r, n in zip(runs, counts, strict=True)
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group we started, nothing else
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


def run_suites() -> list[dict[str, Any]]:
    """The crash, vendor-fault, concurrency and bad-input suites with their big knobs."""
    results = []
    for name, folder, env in SUITES:
        path = ROOT / folder
        tests = sorted(path.rglob("test_*.py")) if path.is_dir() else [path] * path.is_file()
        if not tests:
            results.append({"suite": name, "path": folder, "status": "not run", "why": "absent"})
            continue
        print(f"== suite {name} ({folder}, {env})", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "junit.xml"
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", folder, f"--junitxml={report}"],
                cwd=ROOT,
                env={**os.environ, **env},
            )
            counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
            if report.exists():
                for suite in ElementTree.parse(report).getroot().iter("testsuite"):
                    for key in counts:
                        counts[key] += int(suite.get(key, 0))
        results.append(
            {
                "suite": name,
                "path": folder,
                "env": env,
                "status": "pass" if done.returncode == 0 else "fail",
                "exit": done.returncode,
                "seconds": round(time.perf_counter() - started, 1),
                **counts,
            }
        )
    return results


# -- printing ------------------------------------------------------------------------------


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        f"{'accounts':>8} {'db':10} {'day':6} {'flow':16} {'wall s':>8} {'cpu s':>8} "
        f"{'rss MB':>7} {'refs':>6} {'calls':>6} {'min':>6} {'ratio':>6} {'429':>4} {'rate':>5}"
    ]
    for r in runs:
        if r.get("mode") != "plain":
            continue
        if "phases" not in r:
            lines.append(f"{r['accounts']:>8} {r['database']:10} failed: {r.get('error')}")
            continue
        for day in ("first", "steady"):
            for p in r["phases"]:
                if p["day"] != day or not p["flow"]:
                    continue
                calls = minimum_calls(p)
                actual = sum(v["calls"] for v in calls.values())
                least = sum(v["minimum"] for v in calls.values())
                ratio = f"{actual / least:.2f}" if least else ("-" if not actual else "inf")
                rejected = sum(p["hubspot"]["rejected_429"].values())
                rate = f"{rate_share(p)['mean']:.0%}" if p["name"] == "sync-crm" else ""
                lines.append(
                    f"{r['accounts']:>8} {r['database']:10} {day:6} {p['name']:16} "
                    f"{p['wall_s']:8.2f} {p['cpu_s']:8.2f} {p['peak_rss_mb']:7.0f} "
                    f"{p.get('cpu_ref') or 0:6.1f} {actual:6} {least:6} {ratio:>6} "
                    f"{rejected:4} {rate:>5}"
                )
            t = day_totals(r).get(day)
            if t:
                lines.append(
                    f"{r['accounts']:>8} {r['database']:10} {day:6} {'= program day':16} "
                    f"{t['wall_s']:8.2f} {t['cpu_s']:8.2f} {t['peak_rss_mb']:7.0f}"
                )
    return "\n".join(lines)


def write_results(
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    prefect: dict[str, Any] | None,
    suites: list[dict[str, Any]],
    started: float,
) -> list[dict[str, Any]]:
    """bench/results.json with what is known so far: written after every run, so a long
    benchmark cut short still leaves its figures."""
    found = targets(runs, prefect, suites)
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "arguments": vars(args),
        "hubspot_limit_per_10s": HUBSPOT_CALLS_PER_10S,
        "seconds": round(time.perf_counter() - started, 1),
        "runs": runs,
        "api_minimum": {
            f"{r['accounts']} {r['database']} {p['day']} {p['name']}": minimum_calls(p)
            for r in runs
            if r.get("mode") == "plain" and "phases" in r
            for p in r["phases"]
            if p["flow"]
        },
        "totals": {
            f"{r['accounts']} {r['database']} {r['mode']}": day_totals(r)
            for r in runs
            if "phases" in r
        },
        "prefect": prefect,
        "suites": suites,
        "targets": found,
    }
    out.write_text(json.dumps(results, indent=2, default=str))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="accounts, comma-separated")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--only", choices=FLOWS, help="one flow (sync-crm always runs too)")
    parser.add_argument("--skip-suites", action="store_true")
    parser.add_argument(
        "--prefect",
        choices=("auto", "yes", "no"),
        default="auto",
        help="the Prefect server run (auto: when the largest size is 10,000 or more; below, "
        "its share is the fixed cost of a flow run and says little; judged at 100,000)",
    )
    parser.add_argument(
        "--repeat-small",
        type=int,
        default=3,
        metavar="N",
        help="run each size below the largest N times and use each flow's median (default 3)",
    )
    parser.add_argument(
        "--repeat-large",
        type=int,
        default=1,
        metavar="N",
        help="run the largest size N times and use each flow's median (default 1: a 100k "
        "run takes about 10 minutes a database)",
    )
    parser.add_argument("--profile", metavar="DIR", help="cProfile each flow into DIR")
    parser.add_argument("--out", default="bench/results.json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    databases = [d for d in args.databases.split(",") if d]
    for d in databases:
        if d not in {"sqlite", "postgresql"}:
            parser.error(f"unknown database {d!r}: sqlite or postgresql")
    started = time.perf_counter()
    # A smaller size is cheap to repeat, and its noise (several per cent a run) would
    # otherwise go straight into the growth ratios; the largest one, when asked.
    repeats: dict[tuple[int, str], list[dict[str, Any]]] = {}
    runs: list[dict[str, Any]] = []
    for size, database in run_order(sizes, databases, args.repeat_small, args.repeat_large):
        config = {"accounts": size, "database": database, "mode": "plain", "only": args.only}
        if args.profile:
            config["profile_dir"] = str(Path(args.profile) / f"{size}-{database}")
        at = round(time.perf_counter() - started, 1)
        repeats.setdefault((size, database), []).append({**run_day(config), "started_s": at})
        runs = [median_run(done) for done in repeats.values()]
        write_results(args, runs, None, [], started)
    prefect = None
    wanted = {"yes": True, "no": False}.get(args.prefect, max(sizes) >= 10_000)
    if wanted and not args.only:
        size = max(sizes)
        database = "postgresql" if "postgresql" in databases else databases[0]
        plain = next(r for r in runs if r["accounts"] == size and r["database"] == database)
        server = PrefectServer()
        try:
            flows = run_day(
                {"accounts": size, "database": database, "mode": "prefect"}, server.client_env()
            )
            runs.append(flows)
            prefect = prefect_share(plain, flows, server.task_runs_per_flow_run())
        finally:
            server.stop()
    suites = [] if args.skip_suites else run_suites()
    found = write_results(args, runs, prefect, suites, started)
    print()
    print(table(runs))
    if prefect and "error" not in prefect:
        print(
            f"\nPrefect ({prefect['accounts']:,}, {prefect['database']}): flows "
            f"{prefect['cpu_flows_s']:.1f} s CPU / {prefect['wall_flows_s']:.1f} s wall, plain "
            f"{prefect['cpu_plain_s']:.1f} s / {prefect['wall_plain_s']:.1f} s; outside the "
            f"task bodies {prefect['cpu_prefect_s']:.2f} s CPU / {prefect['wall_prefect_s']:.1f} s"
            f" wall; threads {prefect['doubts']}"
        )
    print()
    width = max((len(t["target"]) for t in found), default=10)
    for t in found:
        print(f"{t['result']:4}  {t['target']:{width}}  {t['figure']}")
    out = ROOT / args.out
    failed = sum(1 for t in found if t["result"] == "FAIL")
    print(f"\n{len(found)} targets: {failed} failed. Written {out}")


if __name__ == "__main__":
    main()
