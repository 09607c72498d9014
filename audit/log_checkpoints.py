"""The log's C2SP checkpoints (c2sp.org/tlog-checkpoint) kept in `audit_log_checkpoint`.

A checkpoint names the tree at the head's size: origin (the signer's key name), size and the
RFC 9162 root from the stored tree hashes (`SqlAuditStore.hash_reader`), as a signed note
(c2sp.org/signed-note, Ed25519 with key hash). The note is kept exactly as made, so what is
served and exported is what was signed. One per size and key: a second process signing the
same size with the same key finds the first one's row (the primary key refuses a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .sql import SqlAuditStore
from .tables import AuditLogCheckpointRow
from .tlog.checkpoint import LogCheckpoint, sign_log_checkpoint
from .tlog.merkle import tree_hash
from .tlog.note import Signer

__all__ = [
    "StoredLogCheckpoint",
    "latest_log_checkpoint",
    "log_checkpoints",
    "make_log_checkpoint",
]

_TABLE = AuditLogCheckpointRow.__table__.c


@dataclass(frozen=True, slots=True)
class StoredLogCheckpoint:
    """A kept C2SP checkpoint: the tree's size and root, the signing key's ID, when it was
    made, and the signed note (UTF-8 text) as made."""

    size: int
    key_id: int
    root_hash: bytes
    time: datetime
    note: str


def _stored(row: Any) -> StoredLogCheckpoint:
    return StoredLogCheckpoint(
        int(row[0]), int(row[1]), bytes(row[2]), cast(datetime, row[3]), str(row[4])
    )


_COLUMNS = (_TABLE.size, _TABLE.key_id, _TABLE.root_hash, _TABLE.time, _TABLE.note)


def latest_log_checkpoint(session: Session) -> StoredLogCheckpoint | None:
    """The newest kept checkpoint (largest size; at one size the last made), or None."""
    statement = select(*_COLUMNS).order_by(_TABLE.size.desc(), _TABLE.time.desc()).limit(1)
    row = session.execute(statement).first()
    return None if row is None else _stored(row)


def log_checkpoints(session: Session, *, up_to: int | None = None) -> list[StoredLogCheckpoint]:
    """Every kept checkpoint (of size ≤ `up_to` when given), by size then time."""
    statement = select(*_COLUMNS).order_by(_TABLE.size, _TABLE.time)
    if up_to is not None:
        statement = statement.where(_TABLE.size <= up_to)
    return [_stored(row) for row in session.execute(statement)]


def make_log_checkpoint(
    session: Session, store: SqlAuditStore, signer: Signer, now: datetime
) -> StoredLogCheckpoint:
    """Sign the tree at the head's size and keep it (the caller commits); the newest kept one
    when it already names that size with this key."""
    size = store.head(session).seq
    latest = latest_log_checkpoint(session)
    if latest is not None and latest.size == size and latest.key_id == signer.key_id:
        return latest
    root = tree_hash(size, store.hash_reader(session))
    checkpoint = LogCheckpoint(signer.name, size, root, strict_origin=True)
    note = sign_log_checkpoint(checkpoint, [signer]).decode("utf-8")
    made = StoredLogCheckpoint(size, signer.key_id, root, now, note)
    session.execute(
        insert(AuditLogCheckpointRow).values(
            size=size, key_id=signer.key_id, root_hash=root, time=now, note=note
        )
    )
    return made
