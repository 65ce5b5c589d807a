"""Credentials may live in Prefect Secret blocks instead of the environment."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.secrets import secret_value

pytestmark = pytest.mark.prefect


def test_a_secret_block_supplies_the_token_when_the_environment_does_not(prefect_harness):
    from prefect.blocks.system import Secret

    Secret(value="pat-from-block").save("hubspot-token", overwrite=True)
    assert secret_value(None, "hubspot-token") == "pat-from-block"
    assert secret_value(SecretStr("pat-from-env"), "hubspot-token") == "pat-from-env"
    assert secret_value(None, None) is None
