"""The CRM backends the contract suites run on: the sandbox and HubSpot (real SDK against the
local fake server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integrations.crm_backends import SandboxBackend, hubspot_backend

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(params=["sandbox", "hubspot"])
def backend(request, factory):
    if request.param == "sandbox":
        yield SandboxBackend(factory)
    else:
        yield from (b for b, _ in hubspot_backend([T0]))
