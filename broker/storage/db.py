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

__all__ = ["SQLITE_BEGIN_MODES", "begin_writing", "make_engine", "reading_first", "session_factory"]

SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})
# A SQLite "transaction" mode of our own: no BEGIN, reads only (see `reading_first`)
READ_ONLY = "READ_ONLY"
_READ_FIRST = "broker_read_first"


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
        raw = connection.connection.dbapi_connection
        assert raw is not None
        if mode == READ_ONLY:
            # no BEGIN: each read is its own snapshot and takes no lock; writes are refused
            raw.execute("PRAGMA query_only=1")
            return
        if mode not in SQLITE_BEGIN_MODES:
            raise ValueError(
                f"sqlite_begin must be one of {sorted(SQLITE_BEGIN_MODES | {READ_ONLY})}"
            )
        raw.execute("PRAGMA query_only=0")  # cannot fail: no I/O, no lock
        connection.exec_driver_sql(f"BEGIN {mode}")  # errors wrapped as SQLAlchemy's

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A `sessionmaker` bound to `engine`; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def reading_first(sessions: sessionmaker[Session], engine: Engine) -> Session:
    """A session for a request that reads and then only appends its audit record.

    On SQLite its reads run outside a transaction, each in a snapshot of its own, with writes
    refused (`PRAGMA query_only`): they take no lock, so the write lock is held only for the
    audit append and its commit (`begin_writing`), not for the whole request. A write before
    `begin_writing` fails loudly instead of committing on its own. On PostgreSQL reads take
    no lock anyway: a plain session.
    """
    if engine.dialect.name != "sqlite":
        return sessions()
    session = sessions(bind=engine.execution_options(sqlite_begin=READ_ONLY))
    session.info[_READ_FIRST] = True
    return session


def begin_writing(session: Session) -> None:
    """Before the audit append of a `reading_first` session: allow writes and open the write
    transaction (BEGIN IMMEDIATE) that the append and the commit run in. Any other session:
    nothing to do."""
    if not session.info.pop(_READ_FIRST, False):
        return
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    assert raw is not None
    if not raw.in_transaction:
        raw.execute("PRAGMA query_only=0")
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # a timeout is SQLAlchemy's error
