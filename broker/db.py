"""Database engines and sessions for the broker: SQLite and PostgreSQL, built on demand.

SQLite runs in WAL mode with `synchronous=FULL` (an acknowledged commit survives a crash or
kill -9), foreign keys on, a busy timeout, and every transaction opened with `BEGIN IMMEDIATE`
so that writers queue for the write lock up front instead of failing half-way. This is
SQLAlchemy's documented pysqlite recipe: turn the driver's own BEGIN off on connect
(`isolation_level = None`) and emit ours on the engine's `begin` event. A connection that
only reads (e.g. a long verification) may ask for a plain deferred BEGIN with
`engine.execution_options(sqlite_begin="DEFERRED")`.

PostgreSQL (`postgresql+psycopg://...`) uses `pool_pre_ping`. Both hide SQL parameters from
exception messages (`hide_parameters`): a parameter can be a field value. Nothing is built at
import time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["SQLITE_BEGIN_MODES", "make_engine", "session_factory"]

SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def make_engine(url: str, *, busy_timeout: float = 30.0, echo: bool = False) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...), set up as above.

    `busy_timeout` is how many seconds a SQLite connection waits for the write lock.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, busy_timeout=busy_timeout, echo=echo)
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, echo=echo, hide_parameters=True)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql+psycopg")


def _sqlite_engine(url: str, *, busy_timeout: float, echo: bool) -> Engine:
    engine = create_engine(
        url, echo=echo, hide_parameters=True, connect_args={"timeout": busy_timeout}
    )
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Take BEGIN away from the sqlite3 driver; `_on_begin` emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")).upper()
        if mode not in SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {sorted(SQLITE_BEGIN_MODES)}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A `sessionmaker` bound to `engine`; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
