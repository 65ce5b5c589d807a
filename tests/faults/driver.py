"""One program day, as a process of its own: ``python -m tests.faults.driver DAY``.

What ``cli/demo.py``'s ``_program_day`` does on a real day (sync-crm, detect-moments,
prompt-csms on weekdays, track-referrals, release-rewards, dispatch-outbox), with the real
adapters ``integrations.wiring`` builds from the environment: the HubSpot, SendGrid and Slack
SDKs, pointed by the crash suite at its local vendor servers.

Test-only kill hook (never in product code): ``REFERRALS_CRASH_AT=before:write:3`` makes the
process SIGKILL its own process group right before its third vendor write leaves (after the
request line is built, before a byte is sent); ``after:write:3`` right after the vendor's
answer to it arrived (the vendor has done it; we have recorded nothing); ``any`` counts reads
too. The hook sits on ``http.client``, under all three SDKs (urllib3 and urllib), so it
catches every call: sends, verifications, searches, retries. Every vendor call is appended to
``REFERRALS_CRASH_JOURNAL`` as it happens, which is how the suite knows where a kill landed.

``python -m tests.faults.driver --serve`` imports all of that once and then forks one child
per line it reads on stdin (``{"day": ISO, "env": {...}}``): importing the program takes
seconds on a busy machine, forking takes a millisecond, and a hundred kills need a hundred
runs. Each child starts a session of its own (``os.setsid``, as ``start_new_session`` would),
so killing its process group kills the run and nothing else. The server writes ``pid N``
when a child starts and ``exit N CODE`` once it has reaped it (CODE is ``-9`` after SIGKILL);
the child writes ``ready`` and, if it completes, one JSON line of counts.

``REFERRALS_CRASH_RUN=N`` numbers the runs of the crashed world: the dispatcher's wall clock
is moved N outbox leases (plus a second each) ahead, so every run starts after the lease of
every earlier run's claims has run out, as it would if a person restarted the program after
the lease. The killed process group is gone, so its claims are orphaned; waiting 30 real
minutes per kill would prove nothing more.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import session_factory
from domain.program import Program, load_program
from integrations.wiring import Adapters, build_adapters, build_deliverers
from tasks.detect_moments import detect_moments
from tasks.outbox_dispatch import DispatchPolicy, dispatch_outbox
from tasks.prompt_csms import prompt_csms
from tasks.referrals.track import track_referrals
from tasks.rewards.release import release_rewards
from tasks.sync_crm import sync_crm

KILL_ENV = "REFERRALS_CRASH_AT"
JOURNAL_ENV = "REFERRALS_CRASH_JOURNAL"
RUN_ENV = "REFERRALS_CRASH_RUN"
READY = "ready"  # printed once the process is set up, before the day starts
SLACK_WRITES = frozenset({"chat.postMessage", "chat.update"})


def policy_for(settings: Settings, run: int) -> DispatchPolicy:
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    skew = (lease + timedelta(seconds=1)) * run
    return DispatchPolicy(
        batch_size=settings.outbox_batch_size,
        max_attempts=settings.outbox_max_attempts,
        lease=lease,
        wall_clock=lambda: datetime.now(UTC) + skew,
    )


def program_day(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    adapters: Adapters,
    day: datetime,
    policy: DispatchPolicy,
) -> Counter[str]:
    """The program's day, in the demo's order and at its hours."""
    deliverers = build_deliverers(adapters)
    done: Counter[str] = Counter()
    synced = sync_crm(factory, adapters.crm, program, settings=settings)
    done["records fetched"] += sum(r["fetched"] for r in synced.rows())
    moments = detect_moments(factory, program, day + timedelta(hours=8))
    done["asks"] += moments.asks_created
    if day.weekday() < 5:
        prompts = prompt_csms(
            factory, program, adapters.chat, deliverers, day + timedelta(hours=9), policy
        )
        done["digests"] += prompts.digests
    at = day + timedelta(hours=10)
    tracked = track_referrals(factory, program, settings, deliverers, at, policy)
    done["feedback emails"] += tracked.counts["feedback emails enqueued"]
    rewarded = release_rewards(factory, program, settings, at)
    done.update({k: v for k, v in rewarded.counts.items() if k.startswith("rewards ")})
    report = dispatch_outbox(factory, deliverers, at, policy)
    done["sent at the end"] += sum(report.sent.values())
    return done


def is_write(vendor: str, method: str, path: str) -> bool:
    if vendor == "sendgrid":
        return path.endswith("/mail/send")
    if vendor == "slack":
        return path.rsplit("/", 1)[-1] in SLACK_WRITES
    reads = path.endswith("/search") or path.endswith("/batch/read")
    return method in {"POST", "PATCH", "PUT", "DELETE"} and not reads


class KillHook:
    """Counts vendor calls under http.client; kills the process group at the planned one."""

    def __init__(self, vendors: dict[int, str], plan: str | None, journal: str | None) -> None:
        self.vendors = vendors
        self.when, self.kind, number = plan.split(":") if plan else ("", "", "0")
        self.number = int(number)
        self.counts: Counter[str] = Counter()
        self.journal = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if journal else None

    def install(self) -> None:
        put, get = http.client.HTTPConnection.putrequest, http.client.HTTPConnection.getresponse
        hook = self

        def putrequest(conn: http.client.HTTPConnection, method: str, url: str, *a: Any, **k: Any):
            vendor = hook.vendors.get(conn.port or 0)
            if vendor is not None:
                path = urlsplit(url).path
                kind = "write" if is_write(vendor, method, path) else "read"
                hook.counts["any"] += 1
                hook.counts[kind] += 1
                conn._crash_call = (vendor, method, path, kind, dict(hook.counts))  # type: ignore[attr-defined]
                hook.note("before", conn._crash_call)  # type: ignore[attr-defined]
            return put(conn, method, url, *a, **k)

        def getresponse(conn: http.client.HTTPConnection) -> http.client.HTTPResponse:
            response = get(conn)
            call = getattr(conn, "_crash_call", None)
            if call is not None:
                conn._crash_call = None  # type: ignore[attr-defined]
                hook.note("after", call)
            return response

        http.client.HTTPConnection.putrequest = putrequest  # type: ignore[method-assign]
        http.client.HTTPConnection.getresponse = getresponse  # type: ignore[method-assign]

    def note(self, when: str, call: tuple[str, str, str, str, dict[str, int]]) -> None:
        vendor, method, path, kind, counts = call
        hit = (
            when == self.when
            and self.kind in (kind, "any")
            and counts.get(self.kind, 0) == self.number
        )
        line = f"{when} {vendor} {method} {path} {kind} {counts.get(kind)}{' KILL' if hit else ''}"
        if self.journal is not None:
            os.write(self.journal, (line + "\n").encode())
        if hit:  # the whole group, as a kill from outside would
            os.killpg(os.getpgid(0), signal.SIGKILL)


def vendor_ports(settings: Settings) -> dict[int, str]:
    bases = {
        "hubspot": settings.hubspot_api_base,
        "sendgrid": settings.sendgrid_api_base,
        "slack": settings.slack_api_base,
    }
    return {urlsplit(base).port or 0: name for name, base in bases.items()}


def main(argv: list[str], say: Callable[[str], None] = print) -> int:
    if argv == ["--serve"]:
        return serve()
    day = datetime.fromisoformat(argv[0])
    settings = Settings()
    KillHook(
        vendor_ports(settings), os.environ.get(KILL_ENV), os.environ.get(JOURNAL_ENV)
    ).install()
    factory = session_factory(settings.resolved_database_url)
    program = load_program(settings.program_file)
    adapters = build_adapters(settings, factory)
    policy = policy_for(settings, int(os.environ.get(RUN_ENV) or 0))
    say(READY)
    sys.stdout.flush()
    done = program_day(factory, program, settings, adapters, day, policy)
    say(json.dumps(dict(done)))
    return 0


def _line(text: str) -> None:
    os.write(1, (text + "\n").encode())  # unbuffered: a SIGKILL loses nothing already said


def serve() -> int:
    """Fork a program day per request; report each child's pid and how it ended."""
    for request in sys.stdin:
        wanted = json.loads(request)
        pid = os.fork()
        if pid == 0:  # the child: a session of its own, the request's environment
            code = 1
            try:
                os.setsid()
                os.environ.update(wanted["env"])
                code = main([wanted["day"]], say=_line)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)  # never back into the server's loop
        _line(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        _line(f"exit {pid} {os.waitstatus_to_exitcode(status)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
