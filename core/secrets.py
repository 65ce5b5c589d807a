"""Secrets come from the environment or a Prefect Secret block, never from files in the repo."""

from __future__ import annotations

from pydantic import SecretStr


def secret_value(value: SecretStr | None, block_name: str | None) -> str | None:
    """The environment's value if set, else the named Prefect Secret block's, else None."""
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if block_name:
        from prefect.blocks.system import Secret

        return str(Secret.load(block_name).get())
    return None
