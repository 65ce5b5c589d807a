"""The dispatch-outbox flow through Prefect, with sandbox adapters."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client

from flows.registry import run_flow
from tests.conftest import T0
from tests.factories import chat, email, enqueue_messages

pytestmark = pytest.mark.prefect


async def _artifact_rows(key: str) -> list[dict[str, object]]:
    async with get_client() as client:
        artifact = await client.read_latest_artifacts()
        data = next(a for a in artifact if a.key == key).data
        return json.loads(data) if isinstance(data, str) else data


def test_flow_delivers_once_and_leaves_a_table_artifact(flow_env, committed_factory):
    enqueue_messages(committed_factory, [email(1), email(2), chat(1)], T0)

    first = run_flow("dispatch-outbox", at=T0)
    summary = asyncio.run(_artifact_rows("dispatch-outbox"))
    second = run_flow("dispatch-outbox", at=T0 + timedelta(hours=1))

    assert {row["channel"]: row["sent"] for row in first} == {"chat": 1, "email": 2}
    assert second == []
    assert len(list((flow_env / "outbox").glob("*.eml"))) == 2
    assert {row["part"]: row["created"] for row in summary} == {"chat messages": 1, "emails": 2}
    assert [row["part"] for row in asyncio.run(_artifact_rows("dispatch-outbox"))] == [
        "nothing to do"
    ]
