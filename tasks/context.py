"""What a task needs to run: settings, a session factory and the selected adapters.

Built once per process from the environment; tasks open their own sessions from it.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings
from db.engine import session_factory
from domain.program import Program, ProgramError, load_program
from integrations.errors import ConfigurationError
from integrations.wiring import Adapters, build_adapters
from tasks.outbox_dispatch import DispatchPolicy

log = logging.getLogger(__name__)
PROGRAM_FILE_VARIABLE = "referrals_program_file"


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    factory: sessionmaker[Session]
    adapters: Adapters
    program: Program

    @property
    def dispatch_policy(self) -> DispatchPolicy:
        return DispatchPolicy(
            batch_size=self.settings.outbox_batch_size,
            max_attempts=self.settings.outbox_max_attempts,
            lease=timedelta(seconds=self.settings.outbox_lease_seconds),
        )


def build_context(settings: Settings) -> AppContext:
    factory = session_factory(settings.resolved_database_url)
    program = load_program_file(settings)
    adapters = build_adapters(settings, factory)
    return AppContext(settings, factory, adapters, program)


def load_program_file(settings: Settings) -> Program:
    """The program rules: in a flow run, from the file the Prefect Variable
    `referrals_program_file` names when it is set; else REFERRALS_PROGRAM_FILE. A missing or
    broken file is a configuration error naming the keys."""
    chosen = program_file_variable()
    if chosen is not None:
        path, source = chosen, f"the Prefect Variable {PROGRAM_FILE_VARIABLE}"
    else:
        path, source = settings.program_file, "REFERRALS_PROGRAM_FILE"
        if not path.exists() and (settings.data_dir / "program.yaml").exists():
            path = settings.data_dir / "program.yaml"  # where `referrals demo` writes one
    if not path.exists():
        raise ConfigurationError(
            f"no program file at {path} (from {source}): run `referrals init --preset saas` "
            f"or set {source}"
        )
    try:
        return load_program(path)
    except ProgramError as error:
        raise ConfigurationError(f"{path}: " + "; ".join(error.errors)) from None


def program_file_variable() -> Path | None:
    """The program file the Prefect Variable `referrals_program_file` names, read only inside
    a flow run: elsewhere (CLI commands, the web app) Prefect may have no server, and asking
    would cost an import and a connection attempt for nothing. An unset or blank Variable, or
    an API that cannot be reached, means the environment decides."""
    if "prefect" not in sys.modules:  # no flow is running in a process that never loaded it
        return None
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return None
    try:
        from prefect.variables import Variable

        value = Variable.get(PROGRAM_FILE_VARIABLE, default=None)
    except Exception as error:  # the flow goes on with the environment's file
        log.debug("could not read the Prefect Variable %s: %s", PROGRAM_FILE_VARIABLE, error)
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    return Path(value.strip()).expanduser()


class _CachedContext:
    """app_context(): built once per process, and again when the Variable names another
    program file than the one it was built with (changed in the UI between two flow runs
    of one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: tuple[Path | None, AppContext] | None = None

    def __call__(self) -> AppContext:
        chosen = program_file_variable()
        with self._lock:
            if self._built is None or self._built[0] != chosen:
                self._built = (chosen, build_context(get_settings()))
            return self._built[1]

    def cache_clear(self) -> None:
        with self._lock:
            self._built = None


app_context = _CachedContext()
