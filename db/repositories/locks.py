"""A named lock that holds across processes and machines, for work that is not a row of
ours (say, editing one Slack message). PostgreSQL: a transaction-scoped advisory lock.
SQLite: the transaction's own BEGIN IMMEDIATE, which already serialises every writer.

Also the detection gate: detect-moments runs hold it shared from their first batch to their
last commit, and prompt-csms takes it exclusively before it reads the asks to prompt, so a
digest is never composed while another run is still turning signals into asks (two runs of
the program's day at once would otherwise send a CSM one digest of the asks made so far and a
second one of the rest). SQLite has one writer at a time and needs no gate."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction

SLACK_MESSAGE = 2  # advisory-lock namespaces, so keys of different uses never meet
DETECTION = 3
SIGNALS = 4


@contextmanager
def held(factory: sessionmaker[Session], namespace: int, name: str) -> Iterator[None]:
    with transaction(factory) as session:
        hold(session, namespace, name)
        yield


def hold(session: Session, namespace: int, name: str) -> None:
    """Take the named lock for the rest of ``session``'s transaction."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(name.encode()) - 2**31  # into int4
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
            {"namespace": namespace, "key": key},
        )
    else:
        session.execute(text("SELECT 1"))  # opens the transaction: BEGIN IMMEDIATE


@contextmanager
def detecting(factory: sessionmaker[Session]) -> Iterator[None]:
    """Hold the detection gate shared for a detect-moments run: a session-level lock on a
    connection of its own (the run commits batch after batch on others). A killed process's
    connection closes, and PostgreSQL releases the lock with it."""
    bind = factory.kw.get("bind")
    if bind is None or bind.dialect.name != "postgresql":
        yield
        return
    if isinstance(bind, Connection):  # a test's connection, inside its outer transaction
        _gate(bind, "pg_advisory_lock_shared")
        try:
            yield
        finally:
            _gate(bind, "pg_advisory_unlock_shared")
        return
    assert isinstance(bind, Engine), bind
    with bind.connect() as connection:
        _gate(connection, "pg_advisory_lock_shared")
        connection.commit()  # the lock outlives the transaction; nothing stays open
        try:
            yield
        finally:
            try:
                _gate(connection, "pg_advisory_unlock_shared")
                connection.commit()
            except Exception:
                connection.invalidate()  # never back to the pool still holding the gate
                raise


def no_detection_in_flight(session: Session) -> None:
    """In prompt-csms' transaction, before it reads the asks: wait until no detect-moments
    run holds the gate (and keep others from starting until this transaction ends)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, 0)"), {"namespace": DETECTION}
        )


def _gate(connection: Connection, function: str) -> None:
    connection.execute(text(f"SELECT {function}(:namespace, 0)"), {"namespace": DETECTION})
