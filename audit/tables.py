"""The audit log's tables on SQLAlchemy 2 (SQLite and PostgreSQL), with their own `metadata`.

Tables (own `metadata`, for the broker's Alembic migrations to include):

- `audit_record` — one row per sealed record: its chain columns, the entry's fields as
  queryable columns, and `body`, the exact bytes that were hashed.
- `audit_head` — a single row (id = 1) with the last seq, hash and time, locked by every
  `SqlAuditStore.append`.
- `audit_checkpoint` — kept signed checkpoints.
- `audit_log_checkpoint` — the log's C2SP checkpoints (c2sp.org/tlog-checkpoint): the tree
  size, root hash and signing key's ID, and the signed note exactly as it was made.
- `audit_tree_hash` — the log's Merkle tree: every complete subtree hash, at the position
  golang.org/x/mod/sumdb/tlog gives it (`audit.tree`), written with the records that complete
  it and never deleted (retention purges records, not their leaf hashes).

The JSON columns of `audit_record` are written as the canonical fragments the record's body
holds (`CanonicalJSON`), so that verification compares them with the body as text.

A migration that creates `audit_head` must insert `GENESIS_HEAD_ROW`; `create_schema` and
`metadata.create_all` do so themselves, and `append` also inserts it when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

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
    Text,
    event,
    insert,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .chain import GENESIS_HASH
from .columns import canonical_json

__all__ = [
    "AUDIT_RECORD_STORAGE",
    "GENESIS_HEAD_ROW",
    "AuditBase",
    "AuditCheckpointRow",
    "AuditHeadRow",
    "AuditLogCheckpointRow",
    "AuditRecordRow",
    "AuditTreeHashRow",
    "CanonicalJSON",
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


class CanonicalJSON(TypeDecorator[Any]):
    """JSON written as its canonical text (compact, sorted keys, UTF-8): the fragment the
    record's canonical bytes hold. Read back as JSON."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str | None]:
        def process(value: Any) -> str | None:
            return None if value is None else canonical_json(value)

        return process


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
    fields_disclosed: Mapped[dict[str, str]] = mapped_column(CanonicalJSON())
    fields_withheld: Mapped[list[str]] = mapped_column(CanonicalJSON())
    convenant_hash: Mapped[str | None] = mapped_column(String(80))
    request_id: Mapped[str | None] = mapped_column(String(128))
    source_address: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON())
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


class AuditLogCheckpointRow(AuditBase):
    """A C2SP checkpoint of the log: its size, root, key and the signed note as made."""

    __tablename__ = "audit_log_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    note: Mapped[str] = mapped_column(Text)


class AuditTreeHashRow(AuditBase):
    """One stored hash of the log's Merkle tree, at its tlog position."""

    __tablename__ = "audit_tree_hash"

    idx: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


@event.listens_for(AuditHeadRow.__table__, "after_create")
def _insert_genesis_head(target: Any, connection: Connection, **kw: Any) -> None:
    connection.execute(insert(AuditHeadRow).values(**GENESIS_HEAD_ROW))


def create_schema(bind: Engine | Connection) -> None:
    """Create the audit tables (and the genesis head row) where they do not exist yet."""
    metadata.create_all(bind)
