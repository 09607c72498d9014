"""broker.storage.db: engines for SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from broker.storage.db import begin_writing, make_engine, reading_first, session_factory


def test_sqlite_connections_are_durable_and_strict(tmp_path: Path) -> None:
    """Every SQLite connection runs WAL, synchronous=FULL, foreign keys and a busy timeout."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout=7.5)
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 7500,
    }


def test_sqlite_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    """A second transaction waits for (and here times out on) the first one's write lock."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first, second = make_engine(url), make_engine(url, busy_timeout=0.2)
    try:
        with first.begin() as holder:
            holder.execute(text("SELECT 1"))  # nothing written, yet the lock is held
            with pytest.raises(OperationalError, match="locked"), second.begin() as other:
                other.execute(text("SELECT 1"))
            # A reader may opt out of the write lock.
            reader = second.execution_options(sqlite_begin="DEFERRED")
            with reader.begin() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        first.dispose()
        second.dispose()


def test_sqlite_transactions_are_real_transactions(tmp_path: Path) -> None:
    """DDL and DML in a rolled-back session leave nothing behind (no driver autocommit)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        sessions = session_factory(engine)
        with sessions() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
            session.rollback()
        with engine.connect() as connection:
            tables = connection.exec_driver_sql("SELECT name FROM sqlite_master").all()
        assert tables == []
    finally:
        engine.dispose()


def test_an_unknown_begin_mode_is_refused(tmp_path: Path) -> None:
    """Only DEFERRED, IMMEDIATE and EXCLUSIVE are valid SQLite begin modes."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with (
            engine.execution_options(sqlite_begin="LATER").connect() as connection,
            pytest.raises(ValueError, match="sqlite_begin"),
        ):
            connection.begin()
    finally:
        engine.dispose()


def test_engines_work_on_both_backends(db_engine: Engine) -> None:
    """make_engine gives a working engine; PostgreSQL's pool pings before use."""
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    if db_engine.dialect.name == "postgresql":
        assert db_engine.pool._pre_ping  # type: ignore[attr-defined]


def test_other_databases_are_refused() -> None:
    """Only SQLite and PostgreSQL are supported."""
    with pytest.raises(ValueError, match="unsupported database"):
        make_engine("mysql://u@localhost/db")


def test_reading_first_sessions_read_without_the_lock_and_write_only_after_begin_writing(
    tmp_path: Path,
) -> None:
    """A read-first session reads while another holds the write lock, refuses writes until
    `begin_writing`, and then commits what it wrote."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    setup, holder_engine = make_engine(url), make_engine(url)
    engine = make_engine(url, busy_timeout=0.2)
    try:
        with setup.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        sessions = session_factory(engine)
        with holder_engine.begin() as holder:  # the write lock is taken
            holder.execute(text("INSERT INTO t VALUES (2)"))
            with reading_first(sessions, engine) as session:
                assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
                with pytest.raises(OperationalError, match="readonly"):
                    session.execute(text("INSERT INTO t VALUES (3)"))
                session.rollback()
        with reading_first(sessions, engine) as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 2
            begin_writing(session)
            session.execute(text("INSERT INTO t VALUES (4)"))
            session.commit()
        with reading_first(sessions, engine) as session:  # a write that is rolled back
            begin_writing(session)
            session.execute(text("INSERT INTO t VALUES (5)"))
            session.rollback()
        with sessions() as session:  # a plain session writes, after a read-first one
            session.execute(text("INSERT INTO t VALUES (6)"))
            session.commit()
        with setup.connect() as connection:
            rows = connection.execute(text("SELECT x FROM t ORDER BY x")).scalars().all()
        assert rows == [1, 2, 4, 6]
    finally:
        for e in (setup, holder_engine, engine):
            e.dispose()
