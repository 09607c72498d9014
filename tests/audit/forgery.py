"""What an intruder with write access to the database can do to the tree: store the tree hashes
that the bodies as they now are give (after changing records and recomputing their chain), so
that only something kept outside the database can tell."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from audit import AuditRecord, AuditRecordRow, AuditTreeHashRow, Frontier, leaf_hash
from audit.sql import _row
from audit.tlog.merkle import stored_hash_count

__all__ = ["insert_record", "rebuild_tree"]


def rebuild_tree(bind: Session | Connection, size: int | None = None) -> None:
    """Replace every stored tree hash by what the stored bodies give, for the first `size`
    records (default: up to the last stored seq); a record with no body (purged) keeps its
    stored leaf hash."""
    records = AuditRecordRow.__table__.c
    tree = AuditTreeHashRow.__table__.c
    bodies = {seq: body for seq, body in bind.execute(select(records.seq, records.body))}
    stored = {idx: digest for idx, digest in bind.execute(select(tree.idx, tree.hash))}
    last = size if size is not None else max(bodies, default=0)
    leaves = [
        leaf_hash(bodies[seq]) if seq in bodies else stored[stored_hash_count(seq - 1)]
        for seq in range(1, last + 1)
    ]
    hashes = Frontier().extend(leaves)
    bind.execute(delete(AuditTreeHashRow))
    if hashes:
        bind.execute(
            insert(AuditTreeHashRow), [{"idx": i, "hash": h} for i, h in enumerate(hashes)]
        )


def insert_record(bind: Session | Connection, record: AuditRecord) -> None:
    """Store a sealed record as `append` would, but without the head row's lock or move."""
    bind.execute(insert(AuditRecordRow), [_row(record)])
