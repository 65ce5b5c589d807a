"""Engines and sessions. Commits happen at task boundaries, never inside repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """``hide_parameters``: a statement's values (emails, names) never reach an error's text,
    so no log line or traceback carries them."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "connect", _postgres_custom_plans)
    return engine


def _postgres_custom_plans(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Batches pass their values as one array (`column = ANY(:values)`). psycopg prepares a
    # statement run five times, and PostgreSQL may then keep a generic plan made while the
    # table was nearly empty: a sequential scan comparing every row with every value, which
    # took seconds per batch once a first sync had filled the table. A plan made for the
    # actual values costs a fraction of a millisecond.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # pysqlite's own transaction handling breaks SAVEPOINT and defers BEGIN unpredictably;
    # SQLAlchemy's documented recipe: let SQLAlchemy emit BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    # IMMEDIATE takes the write lock up front: two processes then wait for each other (busy
    # timeout) instead of failing with "database is locked" when a reader turns writer.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(normalise_url(url)), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory.begin() as session:
        yield session


@contextmanager
def one_connection(factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """A factory like ``factory`` whose sessions all run on one connection, checked out once:
    for a run of many small transactions (the outbox's email after email), where checking a
    connection out of the pool for each would add the pool's liveness ping, a round trip to
    the database, to every one of them. Each ``transaction`` still commits on its own; do not
    nest them (an inner one would join the outer). Keep the run short: the pinned connection
    is not pinged again, so one dropped while idle fails the next transaction."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):  # already on one connection (or none to take)
        yield factory
        return
    with bind.connect() as connection:
        yield sessionmaker(connection, **{k: v for k, v in factory.kw.items() if k != "bind"})
