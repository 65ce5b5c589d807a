"""Serve every deployment of prefect.yaml from this process (`referrals serve` runs it
against its Prefect server): the same names, entrypoints, schedules and one-run-at-a-time
limits as `prefect deploy --all`, with the schedules' time zone from the command line.

    python -m flows.serve [--timezone Europe/Paris]
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow, serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"])


def _flow(entrypoint: str) -> Flow[..., Any]:
    module, name = entrypoint.split(":")
    return getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), name)


def _limit(spec: Any) -> ConcurrencyLimitConfig | int | None:
    if isinstance(spec, dict):
        return ConcurrencyLimitConfig(
            limit=int(spec["limit"]),
            collision_strategy=ConcurrencyLimitStrategy(spec.get("collision_strategy", "ENQUEUE")),
        )
    return spec


def deployments(timezone: str | None = None) -> list[Any]:
    """Every deployment of prefect.yaml as a served deployment; ``timezone`` replaces the
    schedules' own."""
    served = []
    for spec in deployment_specs():
        schedules = [
            Cron(s["cron"], timezone=timezone or s.get("timezone") or "UTC")
            for s in spec.get("schedules", [])
        ]
        served.append(
            _flow(spec["entrypoint"]).to_deployment(
                name=spec["name"],
                schedules=schedules,
                concurrency_limit=_limit(spec.get("concurrency_limit")),
                description=spec.get("description"),
                tags=spec.get("tags"),
            )
        )
    return served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timezone", default=None, help="IANA name for every schedule")
    args = parser.parse_args()
    serve(*deployments(args.timezone))


if __name__ == "__main__":
    main()
