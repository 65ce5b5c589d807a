"""One benchmark run: a book of one size on one database, the first program day (full sync)
and a steady day, flow by flow, with the real adapters against the local vendor servers.

Run by ``benchmarks.run`` in a process of its own (clean imports, memory and CPU clock)::

    python -m benchmarks.day '{"accounts": 10000, "database": "sqlite", "mode": "plain", ...}'

prints one JSON object (the phases and their figures) as its last line. ``mode`` ``plain``
calls the flows' plain functions; ``prefect`` calls the ``@flow`` functions themselves against
the Prefect server that ``PREFECT_API_URL`` names, so the difference is Prefect's cost.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.book import DAYS, REFERRAL_SHARE, SEED, BookFiles, book_files_apart
from benchmarks.meter import Meter, Vendors
from benchmarks.prefect_cost import TaskBodies, measure_flow_tasks
from benchmarks.referrals import intros

HUBSPOT_CALLS_PER_10S = 190
FLOWS = (
    "sync-crm",
    "detect-moments",
    "prompt-csms",
    "track-referrals",
    "release-rewards",
    "dispatch-outbox",
)
# When each flow runs on a program day (hours after midnight UTC), as in the demo.
HOURS = {
    "sync-crm": 7,
    "detect-moments": 8,
    "prompt-csms": 9,
    "track-referrals": 10,
    "release-rewards": 10,
    "dispatch-outbox": 10,
}


def _database(kind: str, folder: Path, name: str) -> str:
    """A fresh database of the benchmark's own: a SQLite file, or a PostgreSQL database
    dropped and created again (never the shared ``test`` one)."""
    if kind == "sqlite":
        return f"sqlite:///{folder / name}.db"
    base = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if name in {"test", "postgres"}:
        raise ValueError(f"refusing to use the shared database {name!r}")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _environment(urls: dict[str, str], database_url: str, folder: Path) -> dict[str, str]:
    """What a deployment would set: the real adapters, each at its local server."""
    program = folder / "program.yaml"
    from domain.program import preset_text

    program.write_text(preset_text("saas"), encoding="utf-8")
    return {
        "DATABASE_URL": database_url,
        "REFERRALS_DATA_DIR": str(folder / "data"),
        "REFERRALS_PROGRAM_FILE": str(program),
        "REFERRALS_SECRET_KEY": "bench-secret",
        "HUBSPOT_ACCESS_TOKEN": urls["hubspot_token"],
        "HUBSPOT_API_BASE": urls["hubspot"],
        "HUBSPOT_CALLS_PER_10S": str(HUBSPOT_CALLS_PER_10S),
        # The benchmark's limit is the ten-secondly one; the search limiter must not bind
        # below it (HubSpot's own search limit is discussed in the README).
        "HUBSPOT_SEARCHES_PER_SECOND": str(HUBSPOT_CALLS_PER_10S // 10),
        "SENDGRID_API_KEY": urls["sendgrid_key"],
        "SENDGRID_API_BASE": urls["sendgrid"],
        "SLACK_BOT_TOKEN": urls["slack_token"],
        "SLACK_API_BASE": urls["slack"],
    }


def _flow_calls(mode: str) -> tuple[dict[str, Callable[[datetime], Any]], TaskBodies | None]:
    """Each flow as the program day calls it: the plain function with the deployment's
    context, or the Prefect flow itself with its task functions measured."""
    if mode == "prefect":
        from flows.detect_moments import detect_moments_flow
        from flows.dispatch_outbox import dispatch_outbox_flow
        from flows.prompt_csms import prompt_csms_flow
        from flows.release_rewards import release_rewards_flow
        from flows.sync_crm import sync_crm_flow
        from flows.track_referrals import track_referrals_flow

        modules = [importlib.import_module(f"flows.{f.replace('-', '_')}") for f in FLOWS]
        return {
            "sync-crm": lambda at: sync_crm_flow(at=at),
            "detect-moments": lambda at: detect_moments_flow(at=at),
            "prompt-csms": lambda at: prompt_csms_flow(at=at),
            "track-referrals": lambda at: track_referrals_flow(at=at),
            "release-rewards": lambda at: release_rewards_flow(at=at),
            "dispatch-outbox": lambda at: dispatch_outbox_flow(at=at),
        }, measure_flow_tasks(modules)
    from integrations.wiring import build_deliverers
    from tasks.context import app_context
    from tasks.detect_moments import detect_moments
    from tasks.outbox_dispatch import dispatch_outbox
    from tasks.prompt_csms import prompt_csms
    from tasks.referrals.track import track_referrals
    from tasks.rewards.release import release_rewards
    from tasks.sync_crm import sync_crm

    c = app_context()
    deliverers = build_deliverers(c.adapters)
    return {
        "sync-crm": lambda at: sync_crm(c.factory, c.adapters.crm, c.program, settings=c.settings),
        "detect-moments": lambda at: detect_moments(c.factory, c.program, at),
        "prompt-csms": lambda at: prompt_csms(
            c.factory, c.program, c.adapters.chat, deliverers, at, c.dispatch_policy
        ),
        "track-referrals": lambda at: track_referrals(
            c.factory, c.program, c.settings, deliverers, at, c.dispatch_policy
        ),
        "release-rewards": lambda at: release_rewards(c.factory, c.program, c.settings, at),
        "dispatch-outbox": lambda at: dispatch_outbox(c.factory, deliverers, at, c.dispatch_policy),
    }, None


def _records(name: str, result: Any, counts_before: dict[str, int], counts_after: dict[str, int]):  # type: ignore[no-untyped-def]
    """The records a flow worked on, for the task-runs bound (⌈records/1000⌉ + c)."""
    if name == "sync-crm" and hasattr(result, "rows"):
        return sum(int(r.get("fetched", 0)) for r in result.rows())
    if name == "detect-moments" and hasattr(result, "signals_checked"):
        return int(result.signals_checked)
    if name == "prompt-csms" and hasattr(result, "asks_prompted"):
        return int(result.asks_prompted) + int(result.digests)
    if name == "dispatch-outbox" and hasattr(result, "sent"):
        return sum(result.sent.values()) + sum(result.failed.values())
    table = {"track-referrals": "referrals", "release-rewards": "rewards"}.get(name)
    return counts_after.get(table, 0) if table else None


def _table_counts(factory: Any) -> dict[str, int]:
    from db.models import Ask, Moment, OutboxMessage, Referral, Reward, Signal

    with factory() as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in {
                "signals": Signal,
                "moments": Moment,
                "asks": Ask,
                "referrals": Referral,
                "rewards": Reward,
                "outbox": OutboxMessage,
            }.items()
        }


def run(config: dict[str, Any]) -> dict[str, Any]:
    accounts, database, mode = config["accounts"], config["database"], config["mode"]
    only: str | None = config.get("only")
    started = time.perf_counter()
    vendors = Vendors(accounts, HUBSPOT_CALLS_PER_10S)  # seeds its portal while we generate
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder = Path(tmp)
        bench = book_files_apart(accounts, folder)
        # What is loaded by now (the benchmark's own modules) is frozen, out of the garbage
        # collector's walks; the flows' imports come later and are walked like the rest.
        gc.collect()
        gc.freeze()
        name = f"bench_{mode}" if database == "postgresql" else f"bench-{mode}"
        database_url = _database(database, folder, name)
        os.environ.update(_environment(vendors.urls, database_url, folder))
        profile_dir = Path(config["profile_dir"]) if config.get("profile_dir") else None
        if profile_dir:
            profile_dir.mkdir(parents=True, exist_ok=True)
        meter = Meter(vendors, profile_dir)
        try:
            result = _days(config, bench, meter, mode, only)
        finally:
            vendors.close()
        result.update(
            {
                "accounts": accounts,
                "database": database,
                "mode": mode,
                "book": bench.stats,
                **meter.in_reference_unit(),
                "phases": meter.phases,
                "total_wall_s": round(time.perf_counter() - started, 1),
            }
        )
        return result


def _days(
    config: dict[str, Any],
    bench: BookFiles,
    meter: Meter,
    mode: str,
    only: str | None,
) -> dict[str, Any]:
    from db.migrate import upgrade
    from domain.statuses import OutboxChannel  # noqa: F401  (imports the models' enums once)
    from integrations.ports import program_properties
    from tasks.context import app_context
    from tasks.ingest_signals import ingest_rows, read_rows
    from tasks.referrals.capture import capture_referrals
    from tasks.team import import_team

    meter.run("setup", "migrate", lambda: upgrade(os.environ["DATABASE_URL"]), flow=False)
    context = app_context()
    factory = context.factory
    milestones = list(context.program.stage_map.milestones.values())
    meter.run(
        "setup",
        "crm properties",
        lambda: context.adapters.crm.setup(program_properties(milestones)),
        flow=False,
    )
    meter.run("setup", "team import", lambda: import_team(factory, read_rows(bench.team)), False)
    calls, bodies = _flow_calls(mode)
    records: dict[str, dict[str, Any]] = {}
    referral_count = 0

    def ingest(day: str, at: datetime) -> None:
        path = bench.signals(day)
        meter.run(day, "ingest signals", lambda: ingest_rows(factory, read_rows(path), at), False)

    def capture(day: str, count: int, at: datetime) -> None:
        nonlocal referral_count
        from db.models import Person

        with factory() as session:
            referrers = list(
                session.scalars(
                    select(Person.email).where(Person.email.is_not(None)).order_by(Person.id)
                )
            )
        if not referrers or count <= 0:
            return
        items = intros(referrers, count, SEED, first=referral_count)
        referral_count += count

        def captured() -> None:
            for start in range(0, len(items), 500):
                capture_referrals(
                    factory, context.program, context.settings, items[start : start + 500], at
                )

        meter.run(day, "capture referrals", captured, flow=False)

    for day, midnight in (("first", bench.first_day), ("steady", bench.steady_day)):
        if day == "first":
            vendors_at = midnight + timedelta(hours=6)
            meter.vendors.ask("clock", at=vendors_at.isoformat())
            ingest(day, midnight + timedelta(hours=6))
        else:
            churn = meter.vendors.ask(
                "churn", at=(midnight + timedelta(hours=6)).isoformat(), share=0.01, won_share=0.3
            )
            records["steady-churn"] = churn
            ingest(day, midnight + timedelta(hours=6))
        for flow in FLOWS:
            at = midnight + timedelta(hours=HOURS[flow])
            if flow == "detect-moments":  # intros arrive during the day (web, CSV), not a flow
                share = REFERRAL_SHARE if day == "first" else REFERRAL_SHARE / DAYS
                morning = midnight + timedelta(hours=7, minutes=30)
                capture(day, round(bench.accounts * share), morning)
            if only and flow != only and flow != "sync-crm":
                continue  # sync-crm always runs: every other flow needs the CRM's records
            before = _table_counts(factory)
            result = meter.run(day, flow, lambda f=flow, t=at: calls[f](t))
            after = _table_counts(factory)
            meter.phases[-1]["records"] = _records(flow, result, before, after)
            meter.phases[-1]["tables"] = after
            if bodies is not None:
                meter.phases[-1].update(bodies.take())
            if mode == "plain":
                meter.phases[-1]["report"] = _summary(result)
    found: dict[str, Any] = {"churn": records.get("steady-churn", {})}
    if bodies is not None:
        found["prefect_doubts"] = bodies.doubts()
    return found


def _summary(result: Any) -> Any:
    """A flow report's counts, small enough for results.json."""
    for attribute in ("counts",):
        if hasattr(result, attribute):
            return {k: v for k, v in dict(getattr(result, attribute)).items() if v}
    if hasattr(result, "rows"):
        try:
            return result.rows()
        except TypeError:
            pass
    fields = getattr(result, "__dataclass_fields__", None)
    if fields:
        out = {}
        for key in fields:
            value = getattr(result, key)
            if isinstance(value, int | float) and value:
                out[key] = value
            elif isinstance(value, dict) and value:
                out[key] = {str(k): v for k, v in value.items() if isinstance(v, int | float)}
        return out
    return None


def main() -> None:
    config = json.loads(sys.argv[1])
    result = run(config)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
