"""What a task needs to run: settings, a session factory and the selected adapters.

Built once per process from the environment; tasks open their own sessions from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings
from db.engine import session_factory
from domain.program import Program, ProgramError, load_program
from integrations.errors import ConfigurationError
from integrations.wiring import Adapters, build_adapters
from tasks.outbox_dispatch import DispatchPolicy


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
    """The program rules; a missing or broken file is a configuration error naming the keys."""
    path = settings.program_file
    if not path.exists() and (settings.data_dir / "program.yaml").exists():
        path = settings.data_dir / "program.yaml"  # where `referrals demo` writes one
    if not path.exists():
        raise ConfigurationError(
            f"no program file at {path}: run `referrals init --preset saas` "
            "or set REFERRALS_PROGRAM_FILE"
        )
    try:
        return load_program(path)
    except ProgramError as error:
        raise ConfigurationError(f"{path}: " + "; ".join(error.errors)) from None


@lru_cache(maxsize=1)
def app_context() -> AppContext:
    return build_context(get_settings())
