"""The audit store on SQLAlchemy 2 (SQLite and PostgreSQL).

Tables (own `metadata`, for the broker's Alembic migrations to include):

- `audit_record` — one row per sealed record: its chain columns, the entry's fields as
  queryable columns, and `body`, the exact bytes that were hashed.
- `audit_head` — a single row (id = 1) with the last seq, hash and time. `append` locks it
  (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the whole database is locked for writing
  by `BEGIN IMMEDIATE`, see `broker.db.make_engine`), so every append sees the true head and
  the chain can neither fork nor skip a seq. `prev_hash` is unique as a second guard.
- `audit_checkpoint` — kept signed checkpoints.

A migration that creates `audit_head` must insert `GENESIS_HEAD_ROW`; `create_schema` and
`metadata.create_all` do so themselves, and `append` also inserts it when it is missing.

Verification reads `seq`, both hashes and `body` only, through the driver's own cursor: on
SQLite a plain cursor, on psycopg binary transfer (no hex encoding of `body`). On PostgreSQL
`audit_record` keeps its rows uncompressed in the table itself (`toast_tuple_target` at its
maximum, migration 0006): a record's body is read with its row, not from the TOAST table.
`SqlAuditStore.segments` verifies stretches of a long window in worker processes, each with
its own connection to the same database (forked when this process runs a single thread, else
from a fork server), for `verify_store` to join.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection as PipeConnection
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from .chain import GENESIS_HASH, Head, Link, Segment, seal, seq_ranges, verify_segment
from .checkpoint import Checkpoint
from .errors import AuditWriteError
from .record import AuditEntry, AuditRecord
from .store import AuditQuery, AuditStore

__all__ = [
    "AUDIT_RECORD_STORAGE",
    "GENESIS_HEAD_ROW",
    "AuditBase",
    "AuditCheckpointRow",
    "AuditHeadRow",
    "AuditRecordRow",
    "SqlAuditStore",
    "UTCDateTime",
    "create_schema",
    "metadata",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_N_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

GENESIS_HEAD_ROW: Final[Mapping[str, Any]] = {
    "id": 1,
    "seq": 0,
    "hash": GENESIS_HASH,
    "time": None,
}

# INTEGER PRIMARY KEY is SQLite's rowid: records are stored in seq order.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

# PostgreSQL storage parameters of `audit_record` (migration 0006): compress or move a row's
# values to the TOAST table only when the row would not fit a page otherwise, so that a
# record's body is read with its row, uncompressed.
AUDIT_RECORD_STORAGE: Final[Mapping[str, int]] = {"toast_tuple_target": 8160}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend, microseconds kept."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AuditBase(DeclarativeBase):
    """Declarative base of the audit tables (own metadata)."""

    metadata = metadata


class AuditRecordRow(AuditBase):
    """One sealed audit record."""

    __tablename__ = "audit_record"

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str | None] = mapped_column(String(128))
    person_name: Mapped[str | None] = mapped_column(String(200))
    on_behalf_of: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(64))
    party: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(128))
    purpose: Mapped[str | None] = mapped_column(String(64))
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(128))
    case_id: Mapped[str | None] = mapped_column(String(128))
    fields_disclosed: Mapped[dict[str, str]] = mapped_column(JSON)
    fields_withheld: Mapped[list[str]] = mapped_column(JSON)
    convenant_hash: Mapped[str | None] = mapped_column(String(80))
    request_id: Mapped[str | None] = mapped_column(String(128))
    source_address: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_audit_record_subject_seq", "subject", "seq"),
        Index("ix_audit_record_person_id_seq", "person_id", "seq"),
        Index("ix_audit_record_case_id_seq", "case_id", "seq"),
        Index("ix_audit_record_party_purpose_seq", "party", "purpose", "seq"),
        # Covers the per-person counts of recent events (rate limits, alarms) without reading
        # the wide rows.
        Index(
            "ix_audit_record_person_event_time", "person_id", "event", "outcome", "time", "subject"
        ),
        {"postgresql_with": dict(AUDIT_RECORD_STORAGE)},
    )


class AuditHeadRow(AuditBase):
    """The single row naming the chain's head; locked by every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class AuditCheckpointRow(AuditBase):
    """A kept signed checkpoint."""

    __tablename__ = "audit_checkpoint"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    signature: Mapped[str] = mapped_column(String(128))


@event.listens_for(AuditHeadRow.__table__, "after_create")
def _insert_genesis_head(target: Any, connection: Connection, **kw: Any) -> None:
    connection.execute(insert(AuditHeadRow).values(**GENESIS_HEAD_ROW))


def create_schema(bind: Engine | Connection) -> None:
    """Create the audit tables (and the genesis head row) where they do not exist yet."""
    metadata.create_all(bind)


_RECORD = AuditRecordRow.__table__.c
_ENTRY_COLUMNS: Final = (
    "event",
    "action",
    "outcome",
    "person_id",
    "person_name",
    "on_behalf_of",
    "role",
    "party",
    "client_id",
    "purpose",
    "legal_basis",
    "subject",
    "case_id",
    "convenant_hash",
    "request_id",
    "source_address",
)
_RECORD_COLUMNS: Final = tuple(c for c in _RECORD if c.key != "body")
_LINK_COLUMNS: Final = (_RECORD.seq, _RECORD.prev_hash, _RECORD.hash, _RECORD.body)
_STREAM_ROWS: Final = 2000
_LINKS_SQL: Final = (
    "SELECT seq, prev_hash, hash, body FROM audit_record "
    "WHERE seq >= {0} AND seq <= {0} ORDER BY seq"
)
_MAX_SEQ: Final = 2**63 - 1
_SQLITE_MMAP_BYTES: Final = 1 << 31  # a worker's SQLite reads the file mapped (capped by the build)


def _row(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    row: dict[str, Any] = {name: getattr(entry, name) for name in _ENTRY_COLUMNS}
    row.update(
        seq=record.seq,
        event_id=record.event_id,
        time=record.time,
        prev_hash=record.prev_hash,
        hash=record.hash,
        fields_disclosed=dict(entry.fields_disclosed),
        fields_withheld=list(entry.fields_withheld),
        detail=dict(entry.detail),
        body=record.body,
    )
    return row


def _record(row: Any) -> AuditRecord:
    """An AuditRecord from a row's columns (not from `body`, so `verify` checks the columns)."""
    values = row._mapping
    entry = AuditEntry(
        **{name: values[name] for name in _ENTRY_COLUMNS},
        fields_disclosed=values["fields_disclosed"],
        fields_withheld=tuple(values["fields_withheld"]),
        detail=values["detail"],
    )
    return AuditRecord(
        seq=values["seq"],
        event_id=values["event_id"],
        time=values["time"],
        prev_hash=values["prev_hash"],
        hash=values["hash"],
        entry=entry,
    )


def _seq_range(since_seq: int | None, until_seq: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if since_seq is not None:
        where.append(_RECORD.seq >= since_seq)
    if until_seq is not None:
        where.append(_RECORD.seq <= until_seq)
    return where


_HEAD: Final = cast(Table, AuditHeadRow.__table__)
_INSERT_RECORDS: Final = insert(cast(Table, AuditRecordRow.__table__))
_LOCK_HEAD: Final = (
    select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.time).where(_HEAD.c.id == 1).with_for_update()
)
_MOVE_HEAD: Final = (
    update(_HEAD)
    .where(_HEAD.c.id == 1, _HEAD.c.seq == bindparam("old_seq"))
    .values(seq=bindparam("seq"), hash=bindparam("hash"), time=bindparam("time"))
)


class SqlAuditStore:
    """`AuditStore` on a SQLAlchemy `Session`; the caller owns the transaction and commits."""

    # `segments` cuts a window into this many stretches per worker process, dealt out in turn:
    # reading costs differ along the window (SQLite maps only the first 2 GiB of its file).
    stretches_per_worker: int = 4

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))

    def append(self, session: Session, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Seal `entries` after the locked head and insert them; on failure roll back, raise.

        Call it last in the transaction, then commit; send data only after the commit.
        """
        batch = list(entries)
        if not all(isinstance(e, AuditEntry) for e in batch):
            session.rollback()
            raise AuditWriteError("only AuditEntry objects can be appended")
        if not batch:
            return []
        session.flush()  # the caller's own pending writes; their errors stay theirs
        try:
            head = self._lock_head(session)
            now = self._clock().astimezone(UTC)
            if head.time is not None and now < head.time:
                now = head.time  # the clock stepped back: keep time non-decreasing along seq
            sealed: list[AuditRecord] = []
            prev_hash = head.hash
            for seq, entry in enumerate(batch, start=head.seq + 1):
                record = seal(entry, seq=seq, prev_hash=prev_hash, time=now)
                sealed.append(record)
                prev_hash = record.hash
            # Core statements on the tables, built once: the ORM's per-call statement work
            # was most of an append's cost.
            connection = session.connection()
            connection.execute(_INSERT_RECORDS, [_row(r) for r in sealed])
            moved = connection.execute(
                _MOVE_HEAD,
                {"old_seq": head.seq, "seq": sealed[-1].seq, "hash": sealed[-1].hash, "time": now},
            )
            if getattr(moved, "rowcount", 1) != 1:
                raise AuditWriteError("the audit head moved while it was locked")
        except Exception as exc:
            session.rollback()
            if isinstance(exc, AuditWriteError):
                raise
            raise AuditWriteError(
                f"the audit record could not be written ({type(exc).__name__}); "
                "the transaction was rolled back"
            ) from exc
        return sealed

    def _lock_head(self, session: Session) -> Head:
        connection = session.connection()
        row = connection.execute(_LOCK_HEAD).one_or_none()
        if row is None:
            self._insert_genesis(session)
            row = connection.execute(_LOCK_HEAD).one()
        return Head(row.seq, row.hash, row.time)

    @staticmethod
    def _insert_genesis(session: Session) -> None:
        dialect = session.connection().dialect.name
        if dialect == "postgresql":
            session.execute(
                postgresql.insert(AuditHeadRow)
                .values(**GENESIS_HEAD_ROW)
                .on_conflict_do_nothing(index_elements=["id"])
            )
        elif dialect == "sqlite":
            session.execute(
                sqlite.insert(AuditHeadRow)
                .values(**GENESIS_HEAD_ROW)
                .on_conflict_do_nothing(index_elements=["id"])
            )
        else:
            session.execute(insert(AuditHeadRow).values(**GENESIS_HEAD_ROW))

    def head(self, session: Session) -> Head:
        """The recorded head (not locked); seq 0 and genesis when nothing was written."""
        row = session.execute(
            select(AuditHeadRow.seq, AuditHeadRow.hash, AuditHeadRow.time).where(
                AuditHeadRow.id == 1
            )
        ).one_or_none()
        return Head(0, GENESIS_HASH, None) if row is None else Head(row.seq, row.hash, row.time)

    def records(
        self, session: Session, *, since_seq: int | None = None, until_seq: int | None = None
    ) -> Iterator[AuditRecord]:
        """Records with since_seq <= seq <= until_seq, built from their columns, streamed."""
        statement = (
            select(*_RECORD_COLUMNS)
            .where(*_seq_range(since_seq, until_seq))
            .order_by(_RECORD.seq)
            .execution_options(yield_per=_STREAM_ROWS)
        )
        result = session.execute(statement)
        try:
            for row in result:
                yield _record(row)
        finally:
            result.close()

    def links(
        self, session: Session, *, since_seq: int | None = None, until_seq: int | None = None
    ) -> Iterator[Link]:
        """Records with since_seq <= seq <= until_seq as stored bytes, streamed."""
        rows = _stored_rows(session.connection(), since_seq, until_seq, is_dedicated=False)
        try:
            yield from map(Link._make, rows)
        finally:
            rows.close()

    def segments(
        self,
        session: Session,
        *,
        since_seq: int | None,
        until_seq: int,
        marks: Collection[int],
        workers: int,
    ) -> list[Segment] | None:
        """Verify stretches of the window in up to `workers` processes, each on a connection of
        its own to this session's database; None when they cannot (an in-memory SQLite
        database, no processes, a worker that cannot connect or read).

        A worker reads what is committed, not this session's own uncommitted writes; a
        stretch that differs from what this session sees only makes `verify_store` verify the
        window again in one pass.
        """
        url = _worker_url(session.connection().engine.url)
        if url is None or workers < 1:
            return None
        low = session.scalar(select(func.min(_RECORD.seq)).where(*_seq_range(since_seq, until_seq)))
        if low is None:
            return None
        ranges = seq_ranges(low, until_seq, workers * self.stretches_per_worker)
        wanted = sorted(set(marks))
        stretches = [
            (first, last, tuple(m for m in wanted if first <= m <= last)) for first, last in ranges
        ]
        return _verify_stretches(url, stretches, min(workers, len(stretches)))

    def add_checkpoint(self, session: Session, checkpoint: Checkpoint) -> None:
        """Keep a signed checkpoint (one per seq and key)."""
        session.execute(
            insert(AuditCheckpointRow).values(
                seq=checkpoint.seq,
                key_id=checkpoint.key_id,
                head_hash=checkpoint.head_hash,
                time=checkpoint.time,
                signature=checkpoint.signature,
            )
        )

    def checkpoints(self, session: Session) -> list[Checkpoint]:
        """Every kept checkpoint, in seq order."""
        table = AuditCheckpointRow.__table__.c
        rows = session.execute(
            select(table.seq, table.head_hash, table.time, table.key_id, table.signature).order_by(
                table.seq, table.key_id
            )
        )
        return [
            Checkpoint(
                seq=r.seq,
                head_hash=r.head_hash,
                time=r.time,
                key_id=r.key_id,
                signature=r.signature,
            )
            for r in rows
        ]

    def query(self, session: Session, query: AuditQuery) -> list[AuditRecord]:
        """Records passing the filters with seq > after_seq, in seq order, at most `limit`."""
        where: list[ColumnElement[bool]] = [_RECORD.seq > query.after_seq]
        for name in (
            "subject",
            "person_id",
            "party",
            "purpose",
            "action",
            "outcome",
            "event",
            "case_id",
        ):
            wanted = getattr(query, name)
            if wanted is not None:
                where.append(_RECORD[name] == wanted)
        if query.since is not None:
            where.append(_RECORD.time >= query.since)
        if query.until is not None:
            where.append(_RECORD.time < query.until)
        statement = select(*_RECORD_COLUMNS).where(*where).order_by(_RECORD.seq).limit(query.limit)
        return [_record(row) for row in session.execute(statement)]

    def purge_through(self, session: Session, seq: int) -> int:
        """Delete records with seq <= `seq` (retention); a kept checkpoint at `seq` must
        anchor the new start and match the record there. Returns how many were deleted."""
        table = AuditCheckpointRow.__table__.c
        anchors = set(session.scalars(select(table.head_hash).where(table.seq == seq)).all())
        if not anchors:
            raise AuditWriteError(f"no kept checkpoint at seq {seq} anchors the purge")
        at = session.scalar(select(_RECORD.hash).where(_RECORD.seq == seq))
        if at is not None and anchors != {at}:
            raise AuditWriteError(f"the checkpoint at seq {seq} does not match the record there")
        deleted = session.execute(
            delete(AuditRecordRow)
            .where(_RECORD.seq <= seq)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(deleted, "rowcount", 0))


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
                    rows = _stored_rows(connection, low, high, is_dedicated=True)
                    try:
                        segment = verify_segment(rows, low, high, marks)
                    finally:
                        rows.close()
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


if TYPE_CHECKING:
    _conforms: AuditStore[Session] = SqlAuditStore()
