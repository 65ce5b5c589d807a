"""A named lock that holds across processes and machines, for work that is not a row of
ours (say, editing one Slack message). PostgreSQL: a transaction-scoped advisory lock.
SQLite: the transaction's own BEGIN IMMEDIATE, which already serialises every writer."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction

SLACK_MESSAGE = 2  # advisory-lock namespaces, so keys of different uses never meet


@contextmanager
def held(factory: sessionmaker[Session], namespace: int, name: str) -> Iterator[None]:
    with transaction(factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            key = zlib.crc32(name.encode()) - 2**31  # into int4
            session.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                {"namespace": namespace, "key": key},
            )
        else:
            session.execute(text("SELECT 1"))  # opens the transaction: BEGIN IMMEDIATE
        yield
