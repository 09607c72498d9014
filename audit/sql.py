"""The audit store on SQLAlchemy 2 (SQLite and PostgreSQL): `SqlAuditStore`.

It keeps records in the tables of `audit.tables`. `append` locks the single `audit_head` row
(`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the whole database is locked for writing by
`BEGIN IMMEDIATE`, see `broker.db.make_engine`), so every append sees the true head and the
chain can neither fork nor skip a seq; `prev_hash` is unique as a second guard. In the same
transaction it writes the tree hashes the new records complete (`audit_tree_hash`, through
`audit.tlog.merkle.stored_hashes` from the tree's right edge, read once): if any of it cannot
be written, nothing is. Records come back from their columns (`records`, `query`) or as the
stored bytes (`links`); verification reads every column (`row_chunks`), the stored tree hashes
(`tree_hash_rows`, `hash_reader`) and what lies outside the chain (`survey`); a long window is
verified in stretches in worker processes (`segments`), all through `audit.reader`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .chain import GENESIS_HASH, Head, Link, seal
from .checkpoint import Checkpoint
from .errors import AuditWriteError
from .reader import (
    _RECORD,
    _STREAM_ROWS,
    _row_chunks,
    _seq_range,
    _stored_rows,
    _survey,
    _tree_rows,
    _verify_stretches,
    _worker_url,
)
from .record import AuditEntry, AuditRecord
from .segments import Segment, seq_ranges
from .store import AuditQuery, AuditStore, Survey
from .tables import (
    GENESIS_HEAD_ROW,
    AuditCheckpointRow,
    AuditHeadRow,
    AuditRecordRow,
    AuditTreeHashRow,
)
from .tlog.errors import HashReaderError
from .tlog.merkle import Node, leaf_hash, stored_hash_index, stored_hashes

__all__ = ["SqlAuditStore"]

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


_HEAD: Final = cast(Table, AuditHeadRow.__table__)
_TREE: Final = cast(Table, AuditTreeHashRow.__table__)
_INSERT_RECORDS: Final = insert(cast(Table, AuditRecordRow.__table__))
_INSERT_HASHES: Final = insert(_TREE)
_READ_HASHES: Final = select(_TREE.c.idx, _TREE.c.hash).where(
    _TREE.c.idx.in_(bindparam("positions", expanding=True))
)
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
            rows = [_row(r) for r in sealed]
            connection.execute(_INSERT_RECORDS, rows)
            leaves = [leaf_hash(row["body"]) for row in rows]
            connection.execute(_INSERT_HASHES, _tree_rows_for(connection, head.seq, leaves))
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

    def hash_reader(self, session: Session) -> SqlHashReader:
        """The stored tree hashes as an `audit.tlog.merkle.HashReader` (for roots and proofs:
        `tree_hash`, `inclusion_proof`, `consistency_proof` at any size up to the head)."""
        return SqlHashReader(session.connection())

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

    def row_chunks(
        self, session: Session, *, since_seq: int, until_seq: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every stored column (`audit.columns.STORED_COLUMNS`) of the records with
        since_seq <= seq <= until_seq, as the driver returns them, in seq order, in chunks."""
        return _row_chunks(session.connection(), since_seq, until_seq)

    def tree_hash_rows(self, session: Session, start: int, end: int) -> list[tuple[int, bytes]]:
        """The stored tree hashes at positions start <= idx < end, in order."""
        return _tree_rows(session.connection(), start, end)

    def survey(self, session: Session, head_seq: int) -> Survey:
        """Where the stored records start, and what lies outside the chain up to `head_seq`."""
        return _survey(session.connection(), head_seq)

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


class SqlHashReader:
    """The stored tree hashes on a connection, as an `audit.tlog.merkle.HashReader`: each call
    reads every node it is asked for in one statement."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        """The hashes of `nodes`, in order; HashReaderError when one is not stored."""
        positions = [stored_hash_index(level, index) for level, index in nodes]
        found = _read_positions(self._connection, positions)
        missing = [node for node, at in zip(nodes, positions, strict=True) if at not in found]
        if missing:
            raise HashReaderError(f"no stored tree hash for node {missing[0]}")
        return [found[at] for at in positions]


def _read_positions(connection: Connection, positions: Collection[int]) -> dict[int, bytes]:
    if not positions:
        return {}
    rows = connection.execute(_READ_HASHES, {"positions": sorted(set(positions))})
    return {idx: bytes(digest) for idx, digest in rows}


class _KnownHashes:
    """A `HashReader` over the hashes an append knows: the right edge it read and those it
    computed; asking for any other is an error (nothing is read twice)."""

    def __init__(self, known: dict[Node, bytes]) -> None:
        self.known = known

    def read_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        try:
            return [self.known[node] for node in nodes]
        except KeyError as exc:
            raise HashReaderError(f"no stored tree hash for node {exc.args[0]}") from None


def _tree_rows_for(
    connection: Connection, size: int, leaves: Sequence[bytes]
) -> list[dict[str, Any]]:
    """The `audit_tree_hash` rows for `leaves` appended to the tree of `size` leaves: the
    stored nodes they complete subtrees with are read in one statement (none when no leaf
    completes a subtree reaching back before them), then `stored_hashes` gives each leaf's
    nodes."""
    older = sorted(
        {
            (level, (index >> level) - 1)
            for index in range(size, size + len(leaves))
            for level in range((~index & (index + 1)).bit_length() - 1)
            if ((index >> level) << level) - 1 < size  # the sibling ends before the batch
        }
    )
    known = dict(zip(older, SqlHashReader(connection).read_hashes(older), strict=True))
    reader = _KnownHashes(known)
    rows: list[dict[str, Any]] = []
    for index, leaf in enumerate(leaves, start=size):
        for node, digest in stored_hashes(index, leaf, reader):
            reader.known[node] = digest
            rows.append({"idx": stored_hash_index(*node), "hash": digest})
    return rows


if TYPE_CHECKING:
    _conforms: AuditStore[Session] = SqlAuditStore()
