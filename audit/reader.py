"""Reading stored records and tree hashes fast, and verifying stretches in worker processes.

Verification reads every column of `audit_record` (`audit.columns.STORED_COLUMNS`; the JSON
columns as their stored text) in chunks of consecutive seqs, one statement per chunk, and the
stored tree hashes for the same records, through the driver's own cursor: on SQLite a plain
cursor, on psycopg binary transfer (no hex encoding of `body`). On PostgreSQL `audit_record`
keeps its rows uncompressed in the table itself (`toast_tuple_target` at its maximum,
migration 0006): a record's body is read with its row, not from the TOAST table. Exports read
the links alone (`_stored_rows`). `SqlAuditStore.segments` verifies stretches of a long window
in worker processes, each with its own connection to the same database (forked when this
process runs a single thread, else from a fork server), for `verify_store` to join.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import multiprocessing.connection
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Generator, Sequence
from multiprocessing.connection import Connection as PipeConnection
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, Final, cast

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement

from .columns import JSON_COLUMNS, STORED_COLUMNS
from .segments import Segment
from .store import Survey
from .stored import verify_stored_segment
from .tables import AuditRecordRow, AuditTreeHashRow
from .tlog.merkle import stored_hash_count
from .tree import Frontier, TreeCheck, frontier_indexes

__all__: list[str] = []  # package-internal: the reader behind `SqlAuditStore`

_RECORD = AuditRecordRow.__table__.c
_LINK_COLUMNS: Final = (_RECORD.seq, _RECORD.prev_hash, _RECORD.hash, _RECORD.body)
_STREAM_ROWS: Final = 2000
_LINKS_SQL: Final = (
    "SELECT seq, prev_hash, hash, body FROM audit_record "
    "WHERE seq >= {0} AND seq <= {0} ORDER BY seq"
)
_MAX_SEQ: Final = 2**63 - 1
_CHUNK_ROWS: Final = 2000  # records per statement when verifying
_ROWS_SQL: Final = (
    f"SELECT {', '.join(STORED_COLUMNS)} FROM audit_record "
    "WHERE seq >= {0} AND seq <= {0} ORDER BY seq"
)
# Elsewhere than on SQLite a JSON column comes back as its stored text only when cast.
_ROWS_CAST_SQL: Final = _ROWS_SQL.replace(
    ", ".join(STORED_COLUMNS),
    ", ".join(f"CAST({c} AS TEXT)" if c in JSON_COLUMNS else c for c in STORED_COLUMNS),
)
_TREE_SQL: Final = (
    "SELECT idx, hash FROM audit_tree_hash WHERE idx >= {0} AND idx < {0} ORDER BY idx"
)
_TREE = AuditTreeHashRow.__table__.c
_SQLITE_MMAP_BYTES: Final = 1 << 31  # a worker's SQLite reads the file mapped (capped by the build)


def _seq_range(since_seq: int | None, until_seq: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if since_seq is not None:
        where.append(_RECORD.seq >= since_seq)
    if until_seq is not None:
        where.append(_RECORD.seq <= until_seq)
    return where


_Row = tuple[int, str, str, bytes]  # seq, prev_hash, hash, body


def _stored_rows(
    connection: Connection, since_seq: int | None, until_seq: int | None, *, is_dedicated: bool
) -> Generator[_Row, None, None]:
    """(seq, prev_hash, hash, body) in seq order through the driver's own cursor (SQLite,
    psycopg), else through SQLAlchemy's.

    On psycopg a connection `is_dedicated` to this read streams the rows; a shared one reads
    them through a server-side cursor, so that other statements may run in between.
    """
    bounds = (since_seq or 0, _MAX_SEQ if until_seq is None else until_seq)
    driver = connection.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        cursor = driver.cursor()
        try:
            cursor.execute(_LINKS_SQL.format("?"), bounds)
            while rows := cursor.fetchmany(_STREAM_ROWS):
                yield from rows
        finally:
            cursor.close()
        return
    if connection.dialect.driver == "psycopg":
        yield from _psycopg_rows(driver, bounds, is_dedicated=is_dedicated)
        return
    statement = (
        select(*_LINK_COLUMNS)
        .where(*_seq_range(since_seq, until_seq))
        .order_by(_RECORD.seq)
        .execution_options(yield_per=_STREAM_ROWS)
    )
    result = connection.execute(statement)
    try:
        for seq, prev_hash, hash_, body in result:
            yield seq, prev_hash, hash_, bytes(body)
    finally:
        result.close()


def _psycopg_rows(
    driver: Any, bounds: tuple[int, int], *, is_dedicated: bool
) -> Generator[_Row, None, None]:
    """Rows over psycopg in binary: `body` comes as its bytes, not as hex text."""
    query = _LINKS_SQL.format("%s")
    if is_dedicated:
        import psycopg  # the connection is psycopg's: it is installed

        cursor = driver.cursor(binary=True)
        chunk = _STREAM_ROWS if psycopg.pq.version() >= 170000 else 1  # chunks from libpq 17
        rows = cursor.stream(query, bounds, size=chunk)
        try:
            yield from rows
        finally:
            rows.close()  # a stream left early is cancelled, so the connection can go on
            cursor.close()
        return
    cursor = driver.cursor(name=f"audit_links_{uuid.uuid4().hex}", binary=True)
    cursor.itersize = _STREAM_ROWS
    try:
        cursor.execute(query, bounds)
        yield from cursor
    finally:
        cursor.close()


def _execute(connection: Connection, sql: str, bounds: tuple[int, int]) -> list[tuple[Any, ...]]:
    """All rows of one bounded statement through the driver's own cursor (`sql` with `{0}`
    for the placeholder), else through SQLAlchemy's."""
    driver = connection.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        cursor = driver.cursor()
        try:
            return cursor.execute(sql.format("?"), bounds).fetchall()
        finally:
            cursor.close()
    if connection.dialect.driver == "psycopg" and driver is not None:
        with driver.cursor(binary=True) as cursor:
            cursor.execute(sql.format("%s"), bounds)
            return [tuple(row) for row in cursor.fetchall()]
    statement = text(sql.replace("{0}", ":low", 1).replace("{0}", ":high", 1))
    result = connection.execute(statement, {"low": bounds[0], "high": bounds[1]})
    return [tuple(row) for row in result]


def _row_chunks(
    connection: Connection, since_seq: int, until_seq: int, size: int = _CHUNK_ROWS
) -> Generator[list[tuple[Any, ...]], None, None]:
    """Every stored column of the records since_seq..until_seq, in seq order, `size` seqs to a
    statement (so other statements may run on the connection in between)."""
    is_sqlite = isinstance(connection.connection.driver_connection, sqlite3.Connection)
    sql = _ROWS_SQL if is_sqlite else _ROWS_CAST_SQL
    for low in range(max(since_seq, 1), until_seq + 1, size):
        rows = _execute(connection, sql, (low, min(low + size - 1, until_seq)))
        if rows:
            yield rows


def _tree_rows(connection: Connection, start: int, end: int) -> list[tuple[Any, ...]]:
    """The stored tree hashes at positions start <= idx < end, in order, as the driver gives
    them (a value that is not bytes differs from every hash)."""
    return _execute(connection, _TREE_SQL, (start, end))


def _survey(connection: Connection, head_seq: int) -> Survey:
    """Where the records start, and the lowest record or tree hash outside the chain."""
    seq = _RECORD.seq

    def lowest(*where: ColumnElement[bool]) -> int | None:
        found = connection.execute(select(func.min(seq)).where(*where)).scalar()
        return None if found is None else int(found)

    past_tree = connection.execute(
        select(func.min(_TREE.idx)).where(_TREE.idx >= stored_hash_count(head_seq))
    ).scalar()
    return Survey(
        lowest(seq >= 1),
        lowest(seq < 1),
        lowest(seq > head_seq),
        None if past_tree is None else int(past_tree),
    )


def _edge(connection: Connection, size: int) -> Frontier | None:
    """The stored right edge of the tree of `size` leaves; None when a hash of it is missing."""
    positions = frontier_indexes(size)
    found: dict[int, bytes] = {}
    for position in positions:
        found.update(_tree_rows(connection, position, position + 1))
    if any(p not in found for p in positions):
        return None
    return Frontier(size, [found[p] for p in positions])


def _worker_url(url: URL) -> str | None:
    """The URL a worker process connects with; None for a database only this process sees."""
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or "memory" in str(url.query.get("mode", "")):
            return None
        if not url.query.get("uri") and not os.path.isabs(database):
            url = url.set(database=os.path.abspath(database))
    return url.render_as_string(hide_password=False)


_Stretch = tuple[int, int, tuple[int, ...]]  # low, high, the marks in it


def _verify_share(url: str, share: Sequence[_Stretch], results: PipeConnection) -> None:
    """In a worker process: verify each stretch of `share` on one connection of its own and
    send each `Segment` back; stop after one that is not sound; send None if reading failed."""
    # Forked, this process shares the parent's memory until it writes to it: keep the garbage
    # collector off the parent's objects, or a collection copies the whole parent heap.
    gc.freeze()
    try:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                if engine.dialect.name == "sqlite":
                    connection.exec_driver_sql(f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES}")
                elif engine.dialect.name == "postgresql":
                    # A range scan in seq order: compiling it (JIT) costs more than it saves.
                    connection.exec_driver_sql("SET jit = off")
                for low, high, marks in share:
                    edge = _edge(connection, low - 1)
                    if edge is None:
                        segment = Segment(low, high, is_sound=False)
                    else:
                        tree = TreeCheck(edge, functools.partial(_tree_rows, connection))
                        chunks = _row_chunks(connection, low, high)
                        try:
                            segment = verify_stored_segment(chunks, low, high, marks, tree)
                        finally:
                            chunks.close()
                    results.send(segment)
                    if not segment.is_sound:
                        break
        finally:
            engine.dispose()
    except Exception:  # the parent verifies in one pass, in its own session, and reports
        results.send(None)
    finally:
        results.close()


def _verify_stretches(
    url: str, stretches: Sequence[_Stretch], workers: int
) -> list[Segment] | None:
    """Verify `stretches` in `workers` processes (every workers-th stretch each); stop at the
    first that is not sound (the one pass names the culprit); None when a worker failed."""
    context = _process_context()
    running: list[tuple[BaseProcess, PipeConnection]] = []
    found: list[Segment] = []
    is_done = False
    expected: dict[PipeConnection, int] = {}
    try:
        for index in range(workers):
            share = stretches[index::workers]
            receiver, sender = context.Pipe(duplex=False)
            worker = context.Process(target=_verify_share, args=(url, share, sender), daemon=True)
            running.append((worker, receiver))
            worker.start()
            sender.close()
            expected[receiver] = len(share)
        while expected:
            for ready in multiprocessing.connection.wait(list(expected)):
                receiver = cast(PipeConnection, ready)
                segment = receiver.recv()
                if segment is None:
                    return None
                found.append(segment)
                if not segment.is_sound:
                    return found
                expected[receiver] -= 1
                if not expected[receiver]:
                    del expected[receiver]
        is_done = True
    except Exception:  # no processes here, or a worker died: verify in one pass instead
        return None
    finally:
        for process, receiver in running:
            if not is_done and process.is_alive():
                process.terminate()
            process.join()
            receiver.close()
    return found


def _process_context() -> ForkContext | ForkServerContext | SpawnContext:
    """On Linux, fork when this process runs one thread (fast, and safe then: a worker opens
    connections of its own and never touches this process's); else a fork server that has
    this module loaded (forking a threaded process can deadlock the child); else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and _is_single_threaded():
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _is_single_threaded() -> bool:
    """Whether this process runs a single thread (Python's and, on Linux, the OS's count)."""
    if threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return True
