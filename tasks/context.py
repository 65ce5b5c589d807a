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
from integrations.wiring import Adapters, build_adapters
from tasks.outbox_dispatch import DispatchPolicy


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    factory: sessionmaker[Session]
    adapters: Adapters

    @property
    def dispatch_policy(self) -> DispatchPolicy:
        return DispatchPolicy(
            batch_size=self.settings.outbox_batch_size,
            max_attempts=self.settings.outbox_max_attempts,
            lease=timedelta(seconds=self.settings.outbox_lease_seconds),
        )


def build_context(settings: Settings) -> AppContext:
    factory = session_factory(settings.resolved_database_url)
    return AppContext(settings, factory, build_adapters(settings, factory))


@lru_cache(maxsize=1)
def app_context() -> AppContext:
    return build_context(get_settings())
