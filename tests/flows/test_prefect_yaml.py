"""prefect.yaml: every deployment's entrypoint imports and is the flow it names, every
scheduled flow of the registry is deployed once, one run at a time, in the shared pool."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from prefect import Flow

from flows.registry import FLOWS

ROOT = Path(__file__).resolve().parents[2]


def deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


def test_every_entrypoint_imports_and_is_the_flow_it_names():
    for deployment in deployments():
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert isinstance(flow, Flow), deployment["name"]
        assert flow.name == deployment["name"]


def test_every_flow_but_the_manual_day_is_deployed_once_on_a_schedule():
    found = [d["name"] for d in deployments()]
    assert sorted(found) == sorted(set(found))
    assert set(found) == set(FLOWS) - {"daily-cycle"}
    for deployment in deployments():
        assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        assert deployment["work_pool"]["name"] == "referrals"
        assert deployment["schedules"], deployment["name"]
