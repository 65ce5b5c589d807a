"""`referrals serve` end to end: a Prefect server of its own, the seven deployments listed
by the API with their schedules and one-run-at-a-time limits, a run triggered through the
API completes, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from domain.program import preset_text

pytestmark = pytest.mark.prefect
DEPLOYMENTS = {
    "sync-crm",
    "detect-moments",
    "prompt-csms",
    "track-referrals",
    "release-rewards",
    "dispatch-outbox",
    "program-report",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(api: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{api}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def until(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"not within {seconds} s")


def test_serve_lists_every_deployment_and_a_triggered_run_completes(
    committed_url: str, tmp_path: Path
) -> None:
    program = tmp_path / "program.yaml"
    program.write_text(preset_text("saas"), encoding="utf-8")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "DATABASE_URL": committed_url,
        "REFERRALS_DATA_DIR": str(tmp_path / "data"),
        "REFERRALS_PROGRAM_FILE": str(program),
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    env.pop("PREFECT_API_URL", None)
    served = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--timezone", "UTC"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        found = until(
            lambda: (d := call(api, "/deployments/filter", {})) and len(d) == 7 and d, 120
        )
        assert {d["name"] for d in found} == DEPLOYMENTS
        for deployment in found:
            assert deployment["schedules"] and deployment["schedules"][0]["schedule"]["cron"]
            assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        report = next(d for d in found if d["name"] == "program-report")
        # A busy server (its SQLite, while the schedules' first runs are written) may answer
        # 503; nothing was created then, so asking again is safe.
        run = until(lambda: call(api, f"/deployments/{report['id']}/create_flow_run", {}), 60)
        state = until(
            lambda: (
                (r := call(api, f"/flow_runs/{run['id']}"))["state"]["type"]
                in ("COMPLETED", "FAILED", "CRASHED")
                and r["state"]["type"]
            ),
            120,
        )
        assert state == "COMPLETED"
        assert (tmp_path / "data" / "reports" / "report.html").exists()
    finally:
        served.send_signal(signal.SIGINT)
        stopping = time.monotonic()
        try:
            served.wait(120)
        except subprocess.TimeoutExpired:
            # Everything in its session, whatever group it made, so no later test inherits it.
            subprocess.run(["pkill", "-KILL", "-s", str(served.pid)], check=False)
            served.wait()
            raise AssertionError("serve did not stop within 120 s of Ctrl-C") from None
    stopped_in = time.monotonic() - stopping

    def leftover() -> str:
        found = subprocess.run(
            ["pgrep", "-s", str(served.pid)], capture_output=True, text=True, check=False
        )
        return found.stdout.strip()

    # A killed child may still be listed for a moment, until it is reaped.
    deadline = time.monotonic() + 15
    while leftover() and time.monotonic() < deadline:
        time.sleep(0.5)
    left = leftover()
    if left:
        listing = subprocess.run(
            ["ps", "-o", "pid,ppid,pgid,stat,args", "-p", ",".join(left.split())],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for pid in left.split():  # leave nothing for the next tests, then say what it was
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        raise AssertionError(
            f"serve stopped in {stopped_in:.0f} s but left processes behind:\n{listing}"
        )
