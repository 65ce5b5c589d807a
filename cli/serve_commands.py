"""`referrals serve`: a local Prefect server (its UI at http://HOST:PORT) and every
deployment of prefect.yaml served on its schedule, until Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from cli.output import fail

STARTUP_SECONDS = 90.0  # a first start creates Prefect's database (measured 14 s here)
STOP_SECONDS = 15.0  # for each child to end on an interrupt before it is killed


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """Interrupt the process and everything it started (its own process group: the Prefect
    server runs uvicorn in a child, a served deployment its flow runs, which may form groups
    of their own), then kill what is left: nothing outlives `referrals serve`."""
    if process is None:
        return
    group = process.pid  # started with process_group=0: the group is named after it
    # Children are looked for all along: one started while stopping (a flow run due just
    # then) is orphaned, out of reach, once its parent has gone.
    family = _descendants(process.pid)
    if process.poll() is None:
        _signal_group(group, signal.SIGINT)  # Prefect pauses served schedules on an interrupt
        deadline = time.monotonic() + STOP_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            family |= _descendants(process.pid)
            time.sleep(0.2)
    family |= _descendants(process.pid)
    _signal_group(group, signal.SIGKILL)  # children the interrupt did not end
    for pid in family:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait()


def _stop_on_signals() -> None:
    """Ctrl-C stops serve even when it was started with interrupts ignored (a background job
    of a script inherits that), and so does a process manager's SIGTERM."""

    def interrupt(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def _interruptible() -> None:
    """In the child, before it starts: interrupts back to their default, so the Prefect
    server and the served deployments stop cleanly on the interrupt they are sent."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc; elsewhere none: the group kill remains)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = entry.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _signal_group(group: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group has ended
        os.killpg(group, signal_number)


def serve(
    host: str = typer.Option("127.0.0.1", help="Where the Prefect server listens."),
    port: int = typer.Option(4200, min=1, max=65535, help="The Prefect server's port."),
    timezone: str = typer.Option(
        "UTC", envvar="REFERRALS_TIMEZONE", help="IANA time zone of every schedule."
    ),
) -> None:
    """Start a local Prefect server (or use the one already at HOST:PORT) and serve every
    flow's deployment on its schedule; the UI at http://HOST:PORT shows them and their runs.
    Ctrl-C stops both."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            "is not a time zone (an IANA name such as Europe/Paris)", param_hint="--timezone"
        ) from None
    _stop_on_signals()
    api = f"http://{host}:{port}/api"
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server: subprocess.Popen[bytes] | None = None
    served: subprocess.Popen[bytes] | None = None
    try:
        if _healthy(api):
            typer.echo(f"using the Prefect server already at http://{host}:{port}")
        else:
            typer.echo(f"starting the Prefect server at http://{host}:{port} ...")
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    host,
                    "--port",
                    str(port),
                ],
                env=env,
                process_group=0,
                preexec_fn=_interruptible,
            )
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _healthy(api):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise fail(
                        f"problem: the Prefect server did not start at {api} "
                        "(is the port taken? its own log is above)"
                    )
                time.sleep(0.5)
        typer.echo(f"serving every deployment (schedules in {timezone}); UI: http://{host}:{port}")
        served = subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "--timezone", timezone],
            env=env,
            process_group=0,
            preexec_fn=_interruptible,
        )
        served.wait()
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        _stop(served)
        _stop(server)
