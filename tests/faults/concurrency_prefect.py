"""A Prefect server of the test's own, a process work pool and workers on it.

``PrefectStack`` starts ``prefect server start`` on a free port with its own PREFECT_HOME (its
database on the test's PostgreSQL server when given one: SQLite is locked by several
processes at once, see PREFECT-NOTES), creates a process work pool and starts workers, each
in a session of its own so that stopping it stops the flow-run processes it started too.

Deploying and running go through ``python -m tests.faults.concurrency_prefect run SPEC``
in a subprocess pointed at that server (the test process may hold Prefect's test harness):
deploy each flow with ``flow.from_source(<checkout>, entrypoint).deploy(...)`` (no schedule,
no concurrency limit, so runs really overlap), create every flow run at once with its own
job variables (the world's environment), wait until all are final, print their states.
"""

from __future__ import annotations

import asyncio
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

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0
RUN_TIMEOUT = 600.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


class PrefectStack:
    def __init__(self, folder: Path, database_url: str | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        home = folder / "prefect-home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",  # default 10: runs would wait for a poll
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        # The test session's own settings must not leak into the stack's processes.
        for name in ("PREFECT_PROFILES_PATH", "PREFECT_SERVER_DATABASE_CONNECTION_URL"):
            self.env.pop(name, None)
        if database_url:
            self.env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.workers = 0

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = self.folder / f"{name}.log"
        self.logs.append(log)
        with log.open("ab") as out:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", *args],
                    cwd=ROOT,
                    env=env or self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its group: the flow runs it starts go with it
                )
            )

    def start(self, pool: str, workers: int, limit: int) -> None:
        """The server, the pool and ``workers`` workers of at most ``limit`` flow runs each
        (so that runs created together are shared between them, not all taken by the first
        to poll)."""
        self._spawn(
            "server",
            ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(self.api):
            if self.processes[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Prefect server did not start: " + self.tail("server"))
            time.sleep(0.5)
        self.cli("work-pool", "create", pool, "--type", "process")
        for n in range(workers):
            name = f"worker-{n}"
            args = ["prefect", "worker", "start", "--pool", pool, "--name", name]
            args += ["--limit", str(limit)]
            # INFO: the worker's log names each flow run it submits (runs_by_worker).
            self._spawn(name, args, {**self.env, "PREFECT_LOGGING_LEVEL": "INFO"})
        self.workers = workers

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def run(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """Deploy and run what ``spec`` says (see ``_run``); the runs' final states."""
        path = self.folder / "spec.json"
        path.write_text(json.dumps(spec))
        done = subprocess.run(
            [sys.executable, "-m", "tests.faults.concurrency_prefect", "run", str(path)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT + 120,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return list(json.loads(done.stdout.strip().splitlines()[-1]))

    def runs_by_worker(self, run_ids: list[str]) -> dict[str, int]:
        """How many of ``run_ids`` each worker's log says it submitted."""
        found = {}
        for n in range(self.workers):
            log = self.tail(f"worker-{n}", chars=10**7)
            found[f"worker-{n}"] = sum(1 for run_id in run_ids if run_id in log)
        return found

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def close(self) -> None:
        """Workers first (SIGINT: they stop polling), then the server; each whole process
        group, killed if it lingers; then check that nothing of them is left."""
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # anything of its group still there
            process.wait(10)
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 0)
                raise AssertionError(f"process group {process.pid} was left behind")


async def _run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """``spec``: ``{"pool": NAME, "deployments": {name: entrypoint}, "runs": [{"deployment":
    name, "parameters": {...}, "env": {...}}]}``."""
    from prefect import Flow
    from prefect.client.orchestration import get_client

    ids = {}
    for name, entrypoint in spec["deployments"].items():
        flow = await Flow.afrom_source(source=str(ROOT), entrypoint=entrypoint)  # type: ignore[attr-defined]
        ids[name] = await flow.adeploy(  # type: ignore[attr-defined]
            name=name, work_pool_name=spec["pool"], print_next_steps=False
        )
    async with get_client() as client:
        runs = await asyncio.gather(
            *(
                client.create_flow_run_from_deployment(
                    ids[run["deployment"]],
                    parameters=run["parameters"],
                    job_variables={"env": run["env"]},
                )
                for run in spec["runs"]
            )
        )
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            states = [await client.read_flow_run(r.id) for r in runs]
            if all(s.state and s.state.is_final() for s in states):
                break
            if time.monotonic() > deadline:
                raise TimeoutError([str(s.state) for s in states])
            await asyncio.sleep(1)
    return [
        {
            "id": str(s.id),
            "deployment": run["deployment"],
            "state": s.state.type.value if s.state else None,
            "message": s.state.message if s.state else None,
            "seconds": (s.end_time - s.start_time).total_seconds()
            if s.end_time and s.start_time
            else None,
            "start": s.start_time.timestamp() if s.start_time else None,
            "end": s.end_time.timestamp() if s.end_time else None,
        }
        for s, run in zip(states, spec["runs"], strict=True)
    ]


if __name__ == "__main__":
    assert sys.argv[1] == "run", sys.argv
    result = asyncio.run(_run(json.loads(Path(sys.argv[2]).read_text())))
    print(json.dumps(result))
