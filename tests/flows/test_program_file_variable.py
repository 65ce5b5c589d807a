"""The Prefect Variable `referrals_program_file`: inside flow runs it names the program file
(over REFERRALS_PROGRAM_FILE); elsewhere, or when the API cannot be reached, the environment
decides, and commands that run no flow never load Prefect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.prefect


@pytest.fixture
def variable_program(flow_env: Path) -> Iterator[Path]:
    """A second program file, named by the Prefect Variable only while the test runs."""
    from prefect.variables import Variable

    other = flow_env / "other-program.yaml"
    text = (flow_env / "program.yaml").read_text(encoding="utf-8")
    other.write_text(
        text.replace("name: Client referral program", "name: From the variable", 1),
        encoding="utf-8",
    )
    yield other
    Variable.unset("referrals_program_file")


def _program_name() -> str:
    from tasks.context import app_context

    return app_context().program.name


def test_the_variable_names_the_program_file_inside_flow_runs_only(variable_program: Path) -> None:
    from prefect import flow
    from prefect.variables import Variable

    from core.settings import get_settings
    from tasks.context import load_program_file

    program_name = flow(name="program-name")(_program_name)
    assert program_name() == "Client referral program"  # not set: the environment's file

    Variable.set("referrals_program_file", str(variable_program), overwrite=True)

    assert program_name() == "From the variable"  # the same process: the context follows
    assert load_program_file(get_settings()).name == "Client referral program"  # no flow run
    Variable.set("referrals_program_file", " ", overwrite=True)
    assert program_name() == "Client referral program"  # blank: as if unset


def test_an_unreachable_api_falls_back_to_the_environment_quietly(
    variable_program: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import httpx
    from prefect import flow
    from prefect.variables import Variable

    Variable.set("referrals_program_file", str(variable_program), overwrite=True)

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise httpx.ConnectError("All connection attempts failed")

    monkeypatch.setattr(Variable, "get", unreachable)
    program_name = flow(name="program-name")(_program_name)

    assert program_name() == "Client referral program"
    assert not [r for r in caplog.records if r.name == "tasks.context" and r.levelname != "DEBUG"]


def test_cli_commands_that_run_no_flow_never_load_prefect(flow_env: Path) -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from core.settings import get_settings\n"
        "from tasks.context import app_context, load_program_file\n"
        "assert load_program_file(get_settings()).name == 'Client referral program'\n"
        "assert 'prefect' not in sys.modules, 'prefect was imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
