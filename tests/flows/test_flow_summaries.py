"""Every flow's keyed table artifact, read back from Prefect: one shape, failed records by id
and reason (never an email), and a flow that fails halfway still says what it did."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.client.schemas.sorting import ArtifactSort
from prefect.states import State
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import OutboxMessage
from flows.daily_cycle import daily_cycle_flow
from flows.dispatch_outbox import dispatch_outbox_flow
from flows.sync_crm import sync_crm_flow
from integrations.errors import TransientError
from integrations.sandbox.crm import SandboxCrm
from tasks.summary import COLUMNS
from tests.conftest import T0
from tests.factories import chat, email, enqueue_messages
from tests.integrations.crm_backends import SandboxBackend

pytestmark = pytest.mark.prefect
ADDRESS = "ana.lima@client.example"


def artifact_rows(key: str, flow_run_id: UUID | None = None) -> list[dict[str, Any]]:
    """The newest table artifact under ``key`` (of that flow run, when given)."""
    run_filter = ArtifactFilterFlowRunId(any_=[flow_run_id]) if flow_run_id else None
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]), flow_run_id=run_filter
            ),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert found, f"no artifact {key}"
    data = found[0].data
    return json.loads(data) if isinstance(data, str) else data


def run_id(state: State) -> UUID:
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id


def by_part(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert all(tuple(row) == COLUMNS for row in rows), rows
    return {row["part"]: row for row in rows}


def test_sync_crm_names_each_quarantined_record_by_id_and_reason(
    flow_env: Path, committed_factory: sessionmaker[Session]
) -> None:
    crm = SandboxBackend(committed_factory)
    company = crm.add_company(T0, "Client", "client.example")
    crm.add_contact(T0, ADDRESS, company)
    broken = crm.add_contact(T0, "not-an-email", company)
    nameless = crm.add_company(T0, "", "nameless.example")

    state = sync_crm_flow(return_state=True)

    assert state.is_completed()
    parts = by_part(artifact_rows("sync-crm", run_id(state)))
    assert parts["companies"] == {
        "part": "companies",
        "found": 2,
        "created": 1,
        "skipped": 0,
        "failed": 1,
        "failed records": f"company {nameless}: name is missing",
    }
    contacts = parts["contacts"]
    assert (contacts["found"], contacts["created"], contacts["failed"]) == (2, 1, 1)
    assert contacts["failed records"] == f"contact {broken}: email is not a valid address"

    again = sync_crm_flow(return_state=True)  # nothing changed: nothing written, held stay held
    parts = by_part(artifact_rows("sync-crm", run_id(again)))
    assert sum(row["created"] + row["failed"] for row in parts.values()) == 0


def test_a_sync_that_fails_halfway_publishes_what_it_did_and_the_error_then_fails(
    flow_env: Path, committed_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    crm = SandboxBackend(committed_factory)
    crm.add_company(T0, "Client", "client.example")
    crm.add_company(T0 + timedelta(minutes=1), "Other client", "other.example")
    read = SandboxCrm.changed_since

    def contacts_unreadable(self: SandboxCrm, object_type: str, *args: Any, **kwargs: Any) -> Any:
        if object_type == "contacts":
            raise TransientError(f"502 from the CRM while reading {ADDRESS}")
        return read(self, object_type, *args, **kwargs)

    monkeypatch.setattr(SandboxCrm, "changed_since", contacts_unreadable)

    state = sync_crm_flow(return_state=True)

    assert state.is_failed()
    rows = artifact_rows("sync-crm", run_id(state))
    parts = by_part(rows)
    assert parts["companies"]["created"] == 2  # done before the failure, and kept
    assert "contacts" not in parts and "deals" not in parts
    assert rows[-1]["part"] == "run stopped" and rows[-1]["failed"] == 1
    reason = rows[-1]["failed records"]
    assert reason.startswith("SyncError: could not read contacts changed since"), reason
    assert "<email>" in reason and ADDRESS not in json.dumps(rows)


def test_dispatch_outbox_names_the_row_that_failed_and_why(
    flow_env: Path, committed_factory: sessionmaker[Session]
) -> None:
    refused = replace(email(3), payload={**email(3).payload, "headers": {"Subject": "x"}})
    enqueue_messages(committed_factory, [email(1), email(2), refused, chat(1)], T0)
    with committed_factory() as session:
        refused_id = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == refused.dedupe_key)
        )

    state = dispatch_outbox_flow(at=T0, return_state=True)

    assert state.is_completed()
    rows = artifact_rows("dispatch-outbox", run_id(state))
    parts = by_part(rows)
    assert parts["emails"] == {
        "part": "emails",
        "found": 3,
        "created": 2,
        "skipped": 0,
        "failed": 1,
        "failed records": f"outbox {refused_id} (test:email:3): "
        "reserved headers cannot be set: Subject",
    }
    assert parts["chat messages"]["created"] == 1
    assert "@" not in json.dumps(rows)
    details = artifact_rows("dispatch-outbox-details", run_id(state))
    assert {row["channel"]: row["failed"] for row in details} == {"chat": 0, "email": 1}


def test_a_daily_cycle_that_fails_in_a_child_flow_says_where_and_fails(
    flow_env: Path, committed_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    SandboxBackend(committed_factory).add_company(T0, "Client", "client.example")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"ledger unavailable for {ADDRESS}")

    monkeypatch.setattr("tasks.reward_tasks.release_rewards", broken)
    at = datetime(2026, 3, 3, 6, 30, tzinfo=UTC)

    state = daily_cycle_flow(at=at, return_state=True)

    assert state.is_failed()
    rows = artifact_rows("daily-cycle", run_id(state))
    parts = [row["part"] for row in rows]
    assert parts[0] == "sync-crm: owners" and "sync-crm: companies" in parts
    assert "track-referrals: referrals decided" in parts
    assert not any(
        p.startswith(("detect-moments", "prompt-csms", "dispatch-outbox")) for p in parts
    )
    assert parts[-2:] == ["release-rewards: run stopped", "run stopped"]
    assert rows[-1]["failed records"] == "RuntimeError: ledger unavailable for <email>"
    child = artifact_rows("release-rewards")
    assert child[-1]["part"] == "run stopped"
    assert child[-1]["failed records"] == "RuntimeError: ledger unavailable for <email>"
